import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ToolInputError } from './errors.js';
import { toToolError } from './fs-errors.js';
import type { Tool } from './types.js';
import { resolveWorkspacePath } from './workspace-path.js';

export const FILE_LIST_MAX_ENTRIES = 1000;

const fileListSchema = z.object({
  path: z.string().default('.').describe('Directory to list, relative to the workspace root (default ".", the root).'),
  recursive: z.boolean().default(false).describe('Also list the contents of subdirectories (default false).'),
});

export type FileListArgs = z.infer<typeof fileListSchema>;

interface ListEntry {
  /** Relative to the listed directory, `/`-separated. */
  path: string;
  line: string;
}

export function createFileListTool(): Tool<FileListArgs> {
  return {
    name: 'file_list',
    description:
      'List the files and directories in a workspace directory, with type and size in bytes, sorted by name. ' +
      'Set recursive=true to include subdirectories. Symbolic links are shown but never followed.',
    inputSchema: fileListSchema,
    defaultPolicy: 'allow',
    risk: () => 'low',
    describe: (args) => ({
      operation: 'file_list',
      description: `List directory ${args.path}${args.recursive ? ' recursively' : ''}`,
    }),
    execute: async (args, ctx) => {
      const target = await resolveWorkspacePath(ctx.workspaceDir, args.path);
      try {
        if (!(await stat(target.absolute)).isDirectory()) {
          throw new ToolInputError(`${target.relative} is not a directory; use file_read to read a file.`);
        }
        const entries: ListEntry[] = [];
        const complete = await walk(target.absolute, '', args.recursive, entries, ctx.signal);
        return { success: true, output: render(target.relative, args.recursive, entries, complete) };
      } catch (error) {
        throw toToolError(error, target.relative);
      }
    },
  };
}

/**
 * Depth-first with each directory sorted, so the output is in path order and stopping at the cap
 * still yields a coherent prefix. Returns false when the cap was hit.
 */
async function walk(
  directory: string,
  prefix: string,
  recursive: boolean,
  entries: ListEntry[],
  signal: AbortSignal,
): Promise<boolean> {
  signal.throwIfAborted();
  const names = (await readdir(directory)).sort(compareNames);
  for (const name of names) {
    if (entries.length >= FILE_LIST_MAX_ENTRIES) return false;
    const absolute = join(directory, name);
    const path = prefix + name;
    // lstat, not stat: a symlink is reported as such and never entered, so listing cannot leave the workspace.
    const info = await lstat(absolute);
    if (info.isDirectory()) {
      entries.push({ path, line: `${path}/ (directory)` });
      if (recursive && !(await walk(absolute, `${path}/`, recursive, entries, signal))) return false;
    } else if (info.isFile()) {
      entries.push({ path, line: `${path} (file, ${info.size} bytes)` });
    } else if (info.isSymbolicLink()) {
      entries.push({ path, line: `${path} (symlink -> ${await readlink(absolute)})` });
    } else {
      entries.push({ path, line: `${path} (other)` });
    }
  }
  return true;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function render(shownPath: string, recursive: boolean, entries: ListEntry[], complete: boolean): string {
  const heading = `Contents of ${shownPath}${recursive ? ' (recursive)' : ''}:`;
  if (entries.length === 0) return `${heading}\n[empty directory]`;
  const lines = [heading, ...entries.map((entry) => entry.line)];
  if (!complete) {
    lines.push(`[listing stopped at ${FILE_LIST_MAX_ENTRIES} entries; list a subdirectory to see more]`);
  }
  return lines.join('\n');
}
