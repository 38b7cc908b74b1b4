import { spawn, type ChildProcess } from 'node:child_process';
import { CappedOutput } from './capped-output.js';

/** A program to start: what a sandbox turns a shell command into. */
export interface ProcessLaunch {
  file: string;
  args: string[];
  cwd: string;
  /** The complete environment: nothing of the server's own environment is added. */
  env: Record<string, string>;
}

export interface ProcessTreeOptions {
  timeoutMs: number;
  /** Aborting kills the whole tree at once. */
  signal: AbortSignal;
  maxOutputChars: number;
}

export interface ProcessTreeOutcome {
  exitCode: number | null;
  /** Set when the process was ended by a signal. */
  exitSignal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  output: { text: string; truncated: boolean };
}

/** After the main process ends, how long pipes held open by escaped processes may delay the result. */
const PIPE_DRAIN_GRACE_MS = 500;

/**
 * Runs a program in its own process group, stdout and stderr collected in arrival order, and
 * SIGKILLs the whole group on timeout, on abort, and once the main process has exited (so
 * background jobs do not outlive the call). A sandbox that adds a PID namespace (bubblewrap)
 * also takes down processes that started a new session or group of their own.
 * Rejects only when the program cannot be started at all.
 */
export function runProcessTree(launch: ProcessLaunch, options: ProcessTreeOptions): Promise<ProcessTreeOutcome> {
  return new Promise((resolve, reject) => {
    const output = new CappedOutput(options.maxOutputChars);
    let timedOut = false;
    let aborted = false;
    let child: ChildProcess;
    try {
      child = spawn(launch.file, launch.args, {
        cwd: launch.cwd,
        env: launch.env,
        // detached = setsid(): the child leads a new process group, so the group can be killed as one.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      reject(error);
      return;
    }

    const kill = () => killGroup(child);
    const onAbort = () => {
      aborted = true;
      kill();
    };
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, Math.max(1, Math.min(options.timeoutMs, 2 ** 31 - 1)));

    child.stdout!.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk));

    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      resolve({
        exitCode: exit?.code ?? null,
        exitSignal: exit?.signal ?? null,
        timedOut,
        aborted,
        output: output.render(),
      });
    };

    child.once('error', (error) => {
      // Emitted without 'exit' when the program could not be started (e.g. ENOENT).
      if (exit || settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      kill();
      // A process that left the group may still hold the pipes; do not wait for it forever.
      setTimeout(() => {
        child.stdout!.destroy();
        child.stderr!.destroy();
        finish();
      }, PIPE_DRAIN_GRACE_MS).unref();
    });
    child.once('close', () => {
      if (exit) finish();
    });
  });
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone.
  }
}
