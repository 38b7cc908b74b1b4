import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { ToolInputError } from './errors.js';
import { toToolError } from './fs-errors.js';
import type { Tool } from './types.js';
import { resolveWorkspacePath } from './workspace-path.js';

const fileWriteSchema = z.object({
  path: z.string().describe('Path of the file, relative to the workspace root. Missing parent directories are created.'),
  content: z.string().describe('Text to write (UTF-8). Without append, this becomes the whole file.'),
  append: z
    .boolean()
    .optional()
    .describe('Add content to the end of the file instead of replacing it (default false). Creates the file if missing.'),
});

export type FileWriteArgs = z.infer<typeof fileWriteSchema>;

export function createFileWriteTool(): Tool<FileWriteArgs> {
  return {
    name: 'file_write',
    description:
      'Create or overwrite a text file in the workspace, or append to it with append=true. ' +
      'Parent directories are created as needed. Returns the number of bytes written.',
    inputSchema: fileWriteSchema,
    defaultPolicy: 'allow',
    risk: () => 'medium',
    describe: (args) => ({
      operation: 'file_write',
      description: `${args.append ? 'Append' : 'Write'} ${Buffer.byteLength(args.content)} bytes to ${args.path}`,
    }),
    execute: async (args, ctx) => {
      const target = await resolveWorkspacePath(ctx.workspaceDir, args.path);
      if (target.relative === '.') throw new ToolInputError('The path must name a file, not the workspace root.');
      const bytes = Buffer.byteLength(args.content);
      let existed: boolean;
      try {
        existed = await isExistingFile(target.absolute, target.relative);
        await mkdir(dirname(target.absolute), { recursive: true });
        await writeFile(target.absolute, args.content, { flag: args.append ? 'a' : 'w', signal: ctx.signal });
      } catch (error) {
        throw toToolError(error, target.relative);
      }
      // Outside the try: a failing callback is the caller's error, not a file-system problem.
      await ctx.onFileWritten?.(target.relative);
      return { success: true, output: await summary(target.absolute, target.relative, bytes, existed, args.append) };
    },
  };
}

async function isExistingFile(absolute: string, shownPath: string): Promise<boolean> {
  try {
    const info = await stat(absolute);
    if (!info.isFile()) throw new ToolInputError(`${shownPath} exists and is not a regular file.`);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

async function summary(absolute: string, shownPath: string, bytes: number, existed: boolean, append?: boolean) {
  if (!existed) return `Created ${shownPath} (${bytes} bytes written).`;
  if (!append) return `Overwrote ${shownPath} (${bytes} bytes written).`;
  const size = (await stat(absolute)).size;
  return `Appended ${bytes} bytes to ${shownPath} (file is now ${size} bytes).`;
}
