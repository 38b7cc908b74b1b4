import type { Config } from '../config/schema.js';
import { createFileListTool } from './file-list.js';
import { createFileReadTool } from './file-read.js';
import { createFileWriteTool } from './file-write.js';
import type { Tool } from './types.js';

/** Room left in a tool result for file_read's continuation note. */
const RESULT_NOTE_RESERVE_CHARS = 200;

export function createBuiltinTools(config: Config['agent']): Tool[] {
  // A default read larger than the result cap would be cut by the registry, losing the note that
  // tells the model which offset to continue from. Bytes >= characters, so this bound is safe.
  const defaultBytes = Math.max(
    1,
    Math.min(config.file_read_max_bytes, config.tool_result_max_chars - RESULT_NOTE_RESERVE_CHARS),
  );
  return [
    createFileReadTool({ maxBytes: config.file_read_max_bytes, defaultBytes }),
    createFileWriteTool(),
    createFileListTool(),
  ] as Tool[];
}
