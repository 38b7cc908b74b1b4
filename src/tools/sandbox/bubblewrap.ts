import { lstat, mkdtemp, readlink, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInside } from '../workspace-path.js';
import { type CommandSandbox, minimalEnv, shellArgv } from './command-sandbox.js';
import { runProcessTree } from './process-tree.js';

export const DEFAULT_BWRAP_PATH = '/usr/bin/bwrap';

/** Where the session workspace appears inside the sandbox; the host path (and session id) stay hidden. */
export const SANDBOX_WORKSPACE = '/workspace';

/** Mounted read-only when present. Never `/`: the data directory and other workspaces must not exist inside. */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc'];

const PROBE_TIMEOUT_MS = 10_000;

export interface BubblewrapOptions {
  bwrapPath: string;
  network: boolean;
  /** Host paths that must stay invisible even if they lie inside a system directory (the data directory). */
  hiddenPaths: string[];
}

/**
 * Builds the sandbox from the host's layout (merged-/usr symlinks are recreated as symlinks) and
 * runs `true` in it once with the exact arguments real commands get. Returns the reason when
 * bubblewrap is missing or cannot create the namespaces here (e.g. user namespaces disabled).
 */
export async function probeBubblewrap(
  options: BubblewrapOptions,
): Promise<{ ok: true; sandbox: CommandSandbox } | { ok: false; reason: string }> {
  const sandbox = createBubblewrapSandbox(options, await systemMounts(options.hiddenPaths, options.network));
  const workspace = await mkdtemp(join(tmpdir(), 'tokendance-bwrap-probe-'));
  try {
    const outcome = await runProcessTree(sandbox.launch(workspace, 'true'), {
      timeoutMs: PROBE_TIMEOUT_MS,
      signal: new AbortController().signal,
      maxOutputChars: 2000,
    });
    if (outcome.exitCode === 0) return { ok: true, sandbox };
    const status = outcome.timedOut ? 'timed out' : `exited with ${outcome.exitCode ?? outcome.exitSignal}`;
    return { ok: false, reason: `${options.bwrapPath} ${status}: ${outcome.output.text.trim() || 'no output'}` };
  } catch (error) {
    return { ok: false, reason: `${options.bwrapPath} cannot be run: ${(error as Error).message}` };
  } finally {
    await rm(workspace, { recursive: true, force: true });
  }
}

function createBubblewrapSandbox(options: BubblewrapOptions, mounts: string[]): CommandSandbox {
  const env = minimalEnv('/tmp');
  const setenv = Object.entries(env).flatMap(([name, value]) => ['--setenv', name, value]);
  return {
    mode: 'bubblewrap',
    confinement:
      `in a sandbox: the workspace is ${SANDBOX_WORKSPACE} (the working directory, read-write), system directories are ` +
      `read-only, /tmp is private and empty, network access is ${options.network ? 'available' : 'disabled'}`,
    launch: (workspaceDir, command) => ({
      file: options.bwrapPath,
      args: [
        '--unshare-all',
        ...(options.network ? ['--share-net'] : []),
        // A user namespace is required so that nested ones can be refused (less kernel surface).
        '--unshare-user',
        '--disable-userns',
        // Without this a server running as root keeps every capability inside, enough to remount /usr read-write.
        '--cap-drop',
        'ALL',
        '--die-with-parent',
        '--new-session',
        '--clearenv',
        ...setenv,
        ...mounts,
        '--proc',
        '/proc',
        '--dev',
        '/dev',
        '--tmpfs',
        '/tmp',
        '--bind',
        workspaceDir,
        SANDBOX_WORKSPACE,
        '--chdir',
        SANDBOX_WORKSPACE,
        '--',
        ...shellArgv(command),
      ],
      cwd: workspaceDir,
      // bwrap itself runs as PID 1 inside, and /proc/1/environ is readable there: give it nothing either.
      env,
    }),
  };
}

async function systemMounts(hiddenPaths: string[], network: boolean): Promise<string[]> {
  const args: string[] = [];
  const bound: string[] = [];
  for (const dir of SYSTEM_DIRS) {
    const info = await lstat(dir).catch(() => undefined);
    if (!info) continue;
    if (info.isSymbolicLink()) {
      args.push('--symlink', await readlink(dir), dir);
    } else if (info.isDirectory()) {
      args.push('--ro-bind', dir, dir);
      bound.push(dir);
    }
  }
  // With systemd-resolved, /etc/resolv.conf points into /run.
  if (network) args.push('--ro-bind-try', '/run/systemd/resolve', '/run/systemd/resolve');
  for (const hidden of hiddenPaths) {
    const real = await realpath(hidden).catch(() => undefined);
    if (real && bound.some((dir) => isInside(dir, real))) args.push('--tmpfs', real);
  }
  return args;
}
