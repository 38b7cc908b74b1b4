import { lstat, unlink } from 'node:fs/promises';
import { z } from 'zod';
import { ToolInputError } from './errors.js';
import { toToolError } from './fs-errors.js';
import type { Tool } from './types.js';
import { resolveWorkspacePath } from './workspace-path.js';

const fileDeleteSchema = z.object({
  path: z.string().describe('Path of the file to delete, relative to the workspace root. Directories are not deleted.'),
});

export type FileDeleteArgs = z.infer<typeof fileDeleteSchema>;

/** The seed's HITL example: deleting a file asks a human first (policy `ask`). */
export function createFileDeleteTool(): Tool<FileDeleteArgs> {
  return {
    name: 'file_delete',
    description: 'Delete one file from the workspace. A human is usually asked to approve this first; if they reject it, do not retry the same deletion.',
    inputSchema: fileDeleteSchema,
    defaultPolicy: 'ask',
    risk: () => 'high',
    describe: (args) => ({ operation: 'file_delete', description: `Delete file ${args.path}` }),
    execute: async (args, ctx) => {
      const target = await resolveWorkspacePath(ctx.workspaceDir, args.path);
      if (target.relative === '.') throw new ToolInputError('The path must name a file, not the workspace root.');
      try {
        const info = await lstat(target.absolute);
        if (info.isDirectory()) throw new ToolInputError(`${target.relative} is a directory; only files can be deleted.`);
        await unlink(target.absolute);
      } catch (error) {
        throw toToolError(error, target.relative);
      }
      await ctx.onFileDeleted?.(target.relative);
      return { success: true, output: `Deleted ${target.relative}.` };
    },
  };
}
