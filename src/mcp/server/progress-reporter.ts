import type { StoredEvent } from '../../events/types.js';

/** Sends one `notifications/progress` for the request being handled. */
export type ProgressSender = (progress: number, message: string) => Promise<void>;

/** Longest text tail and argument preview shown in one message. */
const TAIL_CHARS = 120;
const ARGS_CHARS = 160;
/** Activity lines gathered between two notifications; older ones are summarized away. */
const MAX_LINES = 6;

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();
const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/**
 * Turns a run's events into MCP progress notifications the calling agent or IDE can show: what
 * the agent does (tool calls, results, approvals) and a short tail of the streamed answer.
 * Throttled to one notification per interval; activity in between is gathered into the next
 * message, never dropped, so every tool call is named. When nothing happens for a while a
 * heartbeat says the task is still working (clients that reset their timeout on progress rely on it).
 */
export class ProgressReporter {
  private progress = 0;
  private lines: string[] = [];
  private text = '';
  private textChanged = false;
  private thinkingIteration: unknown;
  private lastSentAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly heartbeat: NodeJS.Timeout | null;
  private readonly startedAt = Date.now();
  private sending: Promise<void> = Promise.resolve();
  private finished = false;

  constructor(
    private readonly send: ProgressSender | undefined,
    private readonly intervalMs: number,
    heartbeatMs: number,
  ) {
    this.heartbeat = send
      ? setInterval(() => {
          if (Date.now() - this.lastSentAt >= heartbeatMs) this.note(`Still working (${Math.round((Date.now() - this.startedAt) / 1000)} s)`);
        }, heartbeatMs)
      : null;
    this.heartbeat?.unref();
  }

  observe(event: StoredEvent): void {
    const data = event.data;
    switch (event.type) {
      case 'tool_call':
        return this.note(`Calling ${String(data.tool)}(${clip(JSON.stringify(data.args ?? {}), ARGS_CHARS)})`);
      case 'tool_result':
        return this.note(`${String(data.tool)} ${data.success ? 'finished' : 'failed'} in ${Number(data.duration_ms ?? 0)} ms`);
      case 'confirm_required':
        return this.note(`Waiting for approval of ${String(data.tool)}: ${clip(oneLine(String(data.description ?? '')), ARGS_CHARS)}`);
      case 'confirm_resolved':
        return this.note(`${String(data.tool)} ${data.approved ? 'approved' : data.expired ? 'not answered in time' : 'rejected'}`);
      case 'thinking':
        // Reasoning streams in many chunks: say so once per model call.
        if (data.iteration === this.thinkingIteration) return undefined;
        this.thinkingIteration = data.iteration;
        return this.note('Thinking');
      case 'content':
        this.text = (this.text + String(data.text ?? '')).slice(-TAIL_CHARS * 4);
        this.textChanged = true;
        return this.schedule();
      default:
        return undefined;
    }
  }

  /** Adds a line of activity to the next notification. */
  note(line: string): void {
    this.lines.push(line);
    if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES, '…');
    this.schedule();
  }

  /** Sends what is still gathered (progress must not follow the request's response) and stops. */
  async finish(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.timer = null;
    this.flush();
    this.finished = true;
    await this.sending;
  }

  private schedule(): void {
    if (!this.send || this.finished || this.timer) return;
    const wait = this.lastSentAt + this.intervalMs - Date.now();
    if (wait <= 0) return this.flush();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, wait);
    this.timer.unref();
  }

  private flush(): void {
    if (!this.send || this.finished || (this.lines.length === 0 && !this.textChanged)) return;
    const parts = [...this.lines];
    if (this.textChanged) parts.push(`Writing: "…${clip(oneLine(this.text).slice(-TAIL_CHARS), TAIL_CHARS)}"`);
    this.lines = [];
    this.textChanged = false;
    this.lastSentAt = Date.now();
    const progress = ++this.progress;
    const send = this.send;
    // In order, one at a time; a client that went away must not fail the task.
    this.sending = this.sending.then(() => send(progress, parts.join(' · ')).catch(() => {}));
  }
}
