import type { Config } from '../config/schema.js';
import { createFileDeleteTool } from './file-delete.js';
import { createFileListTool } from './file-list.js';
import { createFileReadTool } from './file-read.js';
import { createFileWriteTool } from './file-write.js';
import type { CommandSandbox } from './sandbox/command-sandbox.js';
import { createShellTool } from './shell.js';
import type { Tool } from './types.js';
import { createWebFetchTool } from './web-fetch.js';
import { createWorkingMemoryTools } from './working-memory-tools.js';

/** Room left in a tool result for file_read's continuation note. */
const RESULT_NOTE_RESERVE_CHARS = 200;

export interface BuiltinToolOptions {
  /** `shell` is offered only with the sandbox chosen at start-up (see sandbox/select.ts). */
  shell?: { config: Config['tools']['shell']; sandbox: CommandSandbox };
  /** `web_fetch` is offered with these settings; `search` is web_search, built by setupWebSearch when a backend is configured. */
  web?: { fetch: Config['tools']['web_fetch']; search?: Tool };
}

export function createBuiltinTools(config: Config['agent'], options: BuiltinToolOptions = {}): Tool[] {
  // A default read larger than the result cap would be cut by the registry, losing the note that
  // tells the model which offset to continue from. Bytes >= characters, so this bound is safe.
  const defaultBytes = Math.max(
    1,
    Math.min(config.file_read_max_bytes, config.tool_result_max_chars - RESULT_NOTE_RESERVE_CHARS),
  );
  const shell = options.shell
    ? [
        createShellTool({
          sandbox: options.shell.sandbox,
          timeoutS: options.shell.config.timeout_s,
          // Kept under the result cap so the registry never cuts off the end of the output.
          outputMaxChars: Math.max(1, Math.min(options.shell.config.output_max_chars, config.tool_result_max_chars - RESULT_NOTE_RESERVE_CHARS)),
        }),
      ]
    : [];
  return [
    createFileReadTool({ maxBytes: config.file_read_max_bytes, defaultBytes }),
    createFileWriteTool(),
    createFileListTool(),
    createFileDeleteTool(),
    ...createWorkingMemoryTools(),
    ...shell,
    ...(options.web ? [createWebFetchTool({ config: options.web.fetch })] : []),
    ...(options.web?.search ? [options.web.search] : []),
  ] as Tool[];
}
