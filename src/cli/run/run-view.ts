import type { RunEvent, StartedRun } from './run-driver.js';

/** How the command shows a run: for people on a terminal, or as NDJSON for programs. */
export interface RunView {
  started(run: StartedRun): void;
  event(event: RunEvent): void;
  /** A note for the person at the terminal (always on stderr). */
  notice(text: string): void;
  failure(text: string): void;
  /** Before a prompt or exit: stop the spinner, end an open line. */
  pause(): void;
}

/** `--json`: one `{event, id, data}` object per line on stdout; notes stay on stderr. */
export class JsonView implements RunView {
  constructor(private readonly io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }) {}

  started(run: StartedRun): void {
    if (run.sessionId) this.io.stderr.write(`session: ${run.sessionId}\n`);
    if (run.taskId) this.io.stderr.write(`task: ${run.taskId}${run.queued ? ' (queued)' : ''}\n`);
  }

  event(event: RunEvent): void {
    this.io.stdout.write(`${JSON.stringify({ event: event.event, id: event.id, data: event.data })}\n`);
  }

  notice(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  failure(text: string): void {
    this.io.stderr.write(`tokendance: ${text}\n`);
  }

  pause(): void {}
}
