/**
 * Bookkeeping for the processes the bench starts: a bench that dies half-way must not leave a
 * server, a fake model or a PostgreSQL database behind, whatever path it exits by.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const children = new Set<ChildProcess>();
const cleanups: Array<{ name: string; run: () => Promise<void> }> = [];

process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Remembers a child so it is SIGKILLed if the bench exits while it still runs. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Registers a clean-up step. Steps run last-registered first, so a server registered after its
 * database stops before the database is dropped.
 */
export function onCleanup(name: string, run: () => Promise<void>): void {
  cleanups.push({ name, run });
}

export async function runCleanups(): Promise<void> {
  for (const step of cleanups.splice(0).reverse()) {
    try {
      await step.run();
    } catch (error) {
      console.error(`cleanup of ${step.name} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** SIGTERM, then SIGKILL after `graceMs`: a server gets the chance to flush, but never hangs the bench. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolvePromise) => child.once('exit', () => resolvePromise()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Keeps the tail of a child's stderr, for error messages when it fails to start. */
export function stderrTail(child: ChildProcess): () => string {
  let tail = '';
  child.stderr?.on('data', (chunk) => (tail = (tail + chunk).slice(-4000)));
  return () => tail;
}

/** Resolves with the first capture of `pattern` on one of the child's streams; rejects if it exits first. */
export function waitForLine(
  child: ChildProcess,
  pattern: RegExp,
  what: string,
  options: { stream?: 'stdout' | 'stderr'; timeoutMs?: number; stderr?: () => string } = {},
): Promise<string> {
  const input = options.stream === 'stderr' ? child.stderr! : child.stdout!;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const stderr = options.stderr ?? (() => '');
  return new Promise((resolvePromise, reject) => {
    const lines = createInterface({ input });
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before it was ready: ${stderr()}`));
    };
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      reject(new Error(`${what} did not start within ${timeoutMs} ms: ${stderr()}`));
    }, timeoutMs);
    lines.on('line', (line) => {
      const match = pattern.exec(line);
      if (match) {
        clearTimeout(timer);
        child.off('exit', onExit);
        // The interface stays open: it keeps draining the pipe, so a chatty child never blocks on a full one.
        resolvePromise(match[1]!);
      }
    });
    child.once('exit', onExit);
  });
}
