import { lstat, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { ToolInputError } from './errors.js';

export interface WorkspacePath {
  /** Absolute path inside the workspace, normalized lexically (symlinks left in place). */
  absolute: string;
  /** Path relative to the workspace root with `/` separators; `.` for the root itself. */
  relative: string;
}

/**
 * Resolves a model-supplied path to a location inside `workspaceDir`, or throws ToolInputError.
 * Refuses NUL bytes, absolute paths outside the workspace, `..` escapes, and paths whose nearest
 * existing ancestor (or the path itself) resolves through a symlink to somewhere outside.
 * Not-yet-existing path components cannot be symlinks, so checking the nearest existing ancestor
 * covers writes that create new directories. (A concurrent process swapping in a symlink between
 * this check and the fs call is out of scope: the workspace is only written by our own tools.)
 */
export async function resolveWorkspacePath(workspaceDir: string, requested: string): Promise<WorkspacePath> {
  if (typeof requested !== 'string' || requested.trim() === '') {
    throw new ToolInputError('The path must be a non-empty string.');
  }
  if (requested.includes('\0')) throw new ToolInputError('The path must not contain NUL bytes.');
  if (Buffer.byteLength(requested) > MAX_PATH_BYTES) throw new ToolInputError(`The path is longer than ${MAX_PATH_BYTES} bytes.`);
  if (requested.split(/[\\/]/).some((segment) => Buffer.byteLength(segment) > MAX_NAME_BYTES)) {
    throw new ToolInputError(`A file or directory name in the path is longer than ${MAX_NAME_BYTES} bytes.`);
  }

  const root = resolve(workspaceDir);
  const rootReal = await realpath(root);
  const absolute = lexicalTarget(root, rootReal, requested);
  await assertStaysInside(absolute, rootReal, requested);
  await assertNotHardLinked(absolute, requested);
  return { absolute, relative: toPosixRelative(root, absolute) };
}

/** Linux limits (PATH_MAX, NAME_MAX): longer input is refused with a clear message instead of ENAMETOOLONG. */
const MAX_PATH_BYTES = 4096;
const MAX_NAME_BYTES = 255;

/**
 * A file with several hard links may share its inode with a file outside the workspace (a link
 * made before the workspace was, or by a process with more rights): reading, writing or deleting
 * it through the workspace would touch that outside file, so such files are refused.
 */
async function assertNotHardLinked(absolute: string, requested: string): Promise<void> {
  const info = await lstat(absolute).catch(() => null);
  if (info?.isFile() && info.nlink > 1) {
    throw new ToolInputError(`The file "${requested}" has ${info.nlink} hard links; files linked from elsewhere are not accessible to tools.`);
  }
}

export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function lexicalTarget(root: string, rootReal: string, requested: string): string {
  if (isAbsolute(requested)) {
    const normalized = resolve(requested);
    if (isInside(root, normalized)) return normalized;
    // The workspace dir may itself sit behind a symlink (e.g. /tmp -> /private/tmp).
    if (isInside(rootReal, normalized)) return resolve(root, relative(rootReal, normalized));
    throw new ToolInputError(
      `The absolute path "${requested}" is outside the workspace. Use a path relative to the workspace root.`,
    );
  }
  const candidate = resolve(root, requested);
  if (!isInside(root, candidate)) {
    throw new ToolInputError(`The path "${requested}" leaves the workspace; ".." may not go above the workspace root.`);
  }
  return candidate;
}

async function assertStaysInside(absolute: string, rootReal: string, requested: string): Promise<void> {
  const existing = await nearestExisting(absolute);
  let real: string;
  try {
    real = await realpath(existing);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // lstat saw it but realpath cannot resolve it: a dangling or looping symlink. Writing through
    // a dangling link would create its target, which may be outside, so refuse.
    if (code === 'ENOENT' || code === 'ELOOP') {
      throw new ToolInputError(`The path "${requested}" goes through a symbolic link whose target does not exist.`);
    }
    throw error;
  }
  if (!isInside(rootReal, real)) {
    throw new ToolInputError(`The path "${requested}" goes through a symbolic link that points outside the workspace.`);
  }
}

async function nearestExisting(absolute: string): Promise<string> {
  let probe = absolute;
  for (;;) {
    try {
      await lstat(probe);
      return probe;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const parent = dirname(probe);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === probe) throw error;
      probe = parent;
    }
  }
}

function toPosixRelative(root: string, absolute: string): string {
  const rel = relative(root, absolute);
  return rel === '' ? '.' : rel.split(sep).join('/');
}
