import { open, stat } from 'node:fs/promises';
import { z } from 'zod';
import { ToolInputError } from './errors.js';
import { toToolError } from './fs-errors.js';
import type { Tool } from './types.js';
import { resolveWorkspacePath } from './workspace-path.js';

export interface FileReadLimits {
  /** Hard cap per call (`agent.file_read_max_bytes`). */
  maxBytes: number;
  /** Used when the model omits `max_bytes`; kept below the result cap so the continuation note survives. */
  defaultBytes: number;
}

function fileReadSchema(limits: FileReadLimits) {
  return z.object({
    path: z.string().describe('Path of the file, relative to the workspace root (e.g. "notes/todo.md").'),
    offset: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('Byte offset to start reading at (default 0). Use the offset from a truncation note to continue.'),
    max_bytes: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(`Maximum number of bytes to return (default ${limits.defaultBytes}, at most ${limits.maxBytes}).`),
  });
}

export type FileReadArgs = z.infer<ReturnType<typeof fileReadSchema>>;

export function createFileReadTool(limits: FileReadLimits): Tool<FileReadArgs> {
  return {
    name: 'file_read',
    description:
      'Read a UTF-8 text file from the workspace. Long files are returned in chunks: when the result ends ' +
      'with a truncation note, call again with the offset it gives. Binary files are refused. ' +
      'Use file_list to discover file names.',
    inputSchema: fileReadSchema(limits),
    defaultPolicy: 'allow',
    risk: () => 'low',
    describe: (args) => ({ operation: 'file_read', description: `Read file ${args.path}` }),
    execute: async (args, ctx) => {
      const target = await resolveWorkspacePath(ctx.workspaceDir, args.path);
      const limit = Math.min(args.max_bytes ?? limits.defaultBytes, limits.maxBytes);
      return readTextChunk(target.absolute, target.relative, args.offset ?? 0, limit);
    },
  };
}

async function readTextChunk(absolute: string, shownPath: string, offset: number, limit: number) {
  try {
    // Checked before open() because opening a FIFO or device could block or never end.
    const info = await stat(absolute);
    if (info.isDirectory()) throw new ToolInputError(`${shownPath} is a directory; use file_list to see its contents.`);
    if (!info.isFile()) throw new ToolInputError(`${shownPath} is not a regular file.`);

    const handle = await open(absolute, 'r');
    try {
      const size = (await handle.stat()).size;
      if (size === 0) return { success: true, output: `[${shownPath} is empty]` };
      if (offset >= size) {
        return { success: true, output: `[offset ${offset} is at or past the end of ${shownPath} (${size} bytes)]` };
      }
      const buffer = Buffer.alloc(Math.min(limit, size - offset));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      const chunk = buffer.subarray(0, bytesRead);
      if (chunk.includes(0)) {
        throw new ToolInputError(`${shownPath} looks like a binary file (it contains NUL bytes); file_read only returns text.`);
      }
      const reachedEnd = offset + bytesRead >= size;
      const usable = reachedEnd ? chunk.length : completeUtf8Length(chunk);
      const text = chunk.subarray(0, usable).toString('utf8');
      if (reachedEnd) return { success: true, output: text };
      const next = offset + usable;
      return {
        success: true,
        output: `${text}\n[truncated: showed bytes ${offset}-${next} of ${size}; call file_read with offset=${next} to read more]`,
      };
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw toToolError(error, shownPath);
  }
}

/** Length of the prefix that ends on a character boundary, so a chunk never ends in half a character. */
function completeUtf8Length(chunk: Buffer): number {
  for (let back = 1; back <= Math.min(4, chunk.length); back++) {
    const byte = chunk[chunk.length - back]!;
    if ((byte & 0xc0) === 0x80) continue;
    const sequenceLength = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return sequenceLength > back ? chunk.length - back : chunk.length;
  }
  return chunk.length;
}
