import { ToolInputError } from './errors.js';

/**
 * Node's fs messages embed absolute host paths and errno jargon; the model should see the
 * workspace-relative path it used and a plain explanation instead.
 */
export function toToolError(error: unknown, displayPath: string): Error {
  if (error instanceof ToolInputError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new ToolInputError(`No such file or directory: ${displayPath}`);
    case 'EISDIR':
      return new ToolInputError(`${displayPath} is a directory.`);
    case 'ENOTDIR':
      return new ToolInputError(`A parent of ${displayPath} is a file, not a directory.`);
    case 'EEXIST':
      return new ToolInputError(`${displayPath} already exists and is not a directory.`);
    case 'EACCES':
    case 'EPERM':
      return new ToolInputError(`Permission denied: ${displayPath}`);
    case 'ENOSPC':
      return new ToolInputError('No space left on the device.');
    case 'ELOOP':
      return new ToolInputError(`${displayPath} contains a symbolic link loop.`);
    default:
      return error instanceof Error ? error : new Error(String(error));
  }
}
