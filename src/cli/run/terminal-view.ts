import type { RunEvent, StartedRun } from './run-driver.js';
import type { RunView } from './run-view.js';
import { Spinner } from './spinner.js';
import { oneLine, type Paint, paintFor, summarizeArgs, terminalSafe } from './terminal-text.js';

export interface TerminalIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  colors: boolean;
}

/**
 * For people: the answer streams to stdout (so `> answer.txt` keeps just the answer); progress,
 * tool calls and notes go to stderr, with a spinner while the model works when stderr is a
 * terminal, plain lines otherwise.
 */
export class TerminalView implements RunView {
  private readonly paint: Paint;
  private readonly spinner?: Spinner;
  /** The answer's last line has no newline yet. */
  private answerOpen = false;
  private answered = false;
  private readonly sharedTerminal: boolean;

  constructor(private readonly io: TerminalIo) {
    this.paint = paintFor(io.colors);
    if (io.stderr.isTTY) this.spinner = new Spinner(io.stderr, this.paint.cyan);
    this.sharedTerminal = Boolean(io.stdout.isTTY && io.stderr.isTTY);
  }

  started(run: StartedRun): void {
    if (run.sessionId) this.line(this.paint.dim(`session ${run.sessionId} (continue it with --session ${run.sessionId})`));
    if (run.taskId) this.line(this.paint.dim(`task ${run.taskId}${run.queued ? ': queued behind the running task' : ''}`));
    this.working(run.queued ? 'queued' : 'starting');
  }

  event({ event, data }: RunEvent): void {
    switch (event) {
      case 'thinking':
        return this.working('thinking');
      case 'content':
        return this.answer(String(data.text ?? ''));
      case 'tool_call':
        this.line(`${this.paint.cyan('⚙')} ${this.paint.bold(this.safe(String(data.tool)))} ${this.paint.dim(this.safe(summarizeArgs(data.args)))}`);
        return this.working(`running ${this.safe(String(data.tool))}`);
      case 'tool_result': {
        const took = typeof data.duration_ms === 'number' ? ` ${data.duration_ms} ms` : '';
        const result = this.safe(oneLine(String(data.result ?? ''), 100));
        this.line(data.success ? `  ${this.paint.green('✓')}${this.paint.dim(`${took}  ${result}`)}` : `  ${this.paint.red('✗')}${took}  ${result}`);
        return this.working('thinking');
      }
      case 'confirm_required':
        return this.working('waiting for approval');
      case 'confirm_resolved':
        this.line(data.approved ? `  ${this.paint.green('approved')}` : `  ${this.paint.yellow('rejected')}`);
        return this.working('thinking');
      case 'status':
        if (data.resumed && this.answered) {
          this.line(this.paint.yellow('the server restarted mid-answer: the answer starts again'));
          this.answered = false;
        }
        if (data.state === 'model_retrying' || data.state === 'model_fallback') {
          this.line(this.paint.yellow(`model ${data.provider ?? ''} unavailable (${this.safe(String(data.reason ?? data.http_status ?? 'error'))}): ${data.state === 'model_fallback' ? 'trying another provider' : `retrying, attempt ${data.attempt ?? '?'}`}`));
        }
        return;
      case 'done':
        return this.done(data);
      case 'error':
        this.line(`${this.paint.red('✗ error')}${data.code ? this.paint.dim(` (${this.safe(String(data.code))})`) : ''}: ${this.safe(String(data.message ?? 'the run failed'))}`);
        return;
      default:
        return;
    }
  }

  notice(text: string): void {
    this.line(this.paint.yellow(text));
  }

  failure(text: string): void {
    this.line(`${this.paint.red('tokendance:')} ${text}`);
  }

  pause(): void {
    this.spinner?.hide();
    this.closeAnswerLine();
  }

  private done(data: Record<string, any>): void {
    // Nothing streamed (e.g. the answer came before a reconnect): print the whole answer.
    if (!this.answered && data.content) this.answer(String(data.content));
    this.closeAnswerLine();
    const parts = ['done'];
    if (typeof data.iterations === 'number') parts.push(`${data.iterations} model call${data.iterations === 1 ? '' : 's'}`);
    if (typeof data.duration_ms === 'number') parts.push(`${(data.duration_ms / 1000).toFixed(1)} s`);
    if (data.usage) parts.push(`${data.usage.input_tokens ?? 0} in / ${data.usage.output_tokens ?? 0} out tokens`);
    const artifacts = Array.isArray(data.artifacts) ? data.artifacts.map((artifact: any) => artifact?.name ?? artifact?.path).filter(Boolean) : [];
    if (artifacts.length > 0) parts.push(`files: ${artifacts.join(', ')}`);
    this.line(this.paint.green(`✓ ${this.safe(parts.join(' · '))}`));
  }

  private answer(text: string): void {
    if (!text) return;
    // On a shared terminal the spinner would overwrite the answer's line: it waits for the next step.
    if (this.sharedTerminal) this.spinner?.hide();
    const shown = this.io.stdout.isTTY ? terminalSafe(text) : text;
    this.io.stdout.write(shown);
    this.answered = true;
    this.answerOpen = !shown.endsWith('\n');
    if (!this.sharedTerminal) this.spinner?.show('writing the answer');
  }

  private closeAnswerLine(): void {
    if (this.answerOpen) this.io.stdout.write('\n');
    this.answerOpen = false;
  }

  /** A line on stderr, above the spinner. */
  private line(text: string): void {
    this.spinner?.hide();
    if (this.sharedTerminal) this.closeAnswerLine();
    this.io.stderr.write(`${text}\n`);
  }

  private working(label: string): void {
    if (this.sharedTerminal && this.answerOpen) return;
    this.spinner?.show(label);
  }

  private safe(text: string): string {
    return this.io.stderr.isTTY ? terminalSafe(text) : text;
  }
}
