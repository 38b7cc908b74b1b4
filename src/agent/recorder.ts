import { isoNow, newId } from '../core/ids.js';
import { withoutNul } from '../core/text.js';
import type { EventLog } from '../events/log.js';
import type { LogEventType } from '../events/types.js';
import type { NewMessage } from '../store/repositories/messages.js';
import type { RunRow } from '../store/schema.js';
import type { Completion, StartAttempt } from '../store/repositories/runs.js';
import type { Store } from '../store/store.js';
import type { StoredImage } from './conversation.js';
import type { RunRecorder } from './loop.js';
import type { Usage } from './providers/types.js';

type SavedMessage = { role: 'user' | 'assistant' | 'tool'; content: string; tool_calls?: string; tool_call_id?: string; attachments?: StoredImage[] };

/** Records a run's steps in the event log and the store; every event payload carries `run_id`. */
export class StoreRunRecorder implements RunRecorder {
  private deltaFailure: unknown = null;
  private readonly runIdJson: string;
  private readonly runIdTail: string;
  private deltaIteration = -1;
  private contentTail = '';
  private thinkingHead = '';

  constructor(
    private readonly store: Store,
    private readonly log: EventLog,
    readonly sessionId: string,
    readonly runId: string,
  ) {
    this.runIdJson = JSON.stringify(runId);
    this.runIdTail = `,"run_id":${this.runIdJson}}`;
  }

  async emit(type: LogEventType, data: Record<string, unknown>): Promise<void> {
    this.throwIfDeltaFailed();
    await this.log.append(this.sessionId, this.runId, type, { ...data, run_id: this.runId });
  }

  /**
   * The JSON of `{text, iteration, run_id}` (`{iteration, reasoning, run_id}` for thinking), exactly
   * as JSON.stringify writes it, spelled out: per token one string instead of an object, the
   * property store `run_id` adds to it and a generic stringify, all garbage within the second.
   * What surrounds the text is made once per iteration: each `+` of a long string allocates a
   * node of the rope, and a template of six parts made six per token.
   */
  emitDelta(type: 'content' | 'thinking', text: string, iteration: number): void {
    if (iteration !== this.deltaIteration) {
      this.deltaIteration = iteration;
      this.contentTail = `,"iteration":${iteration},"run_id":${this.runIdJson}}`;
      this.thinkingHead = `{"iteration":${iteration},"reasoning":`;
    }
    const json = type === 'content' ? '{"text":' + JSON.stringify(text) + this.contentTail : this.thinkingHead + JSON.stringify(text) + this.runIdTail;
    this.log.appendDelta(this.sessionId, this.runId, type, json, this.onDeltaFailure);
  }

  private readonly onDeltaFailure = (error: unknown) => {
    this.deltaFailure ??= error;
  };

  async saveMessage(message: SavedMessage): Promise<void> {
    this.throwIfDeltaFailed();
    await this.store.messages.append([this.row(message)]);
  }

  /**
   * A new run starts if its user may use the session and it has no active run: the run, its
   * session `running`, the user's message; see RunsRepository.startUnlessBusy.
   */
  saveNewRun(run: RunRow, message: SavedMessage): Promise<StartAttempt> {
    return this.store.runs.startUnlessBusy(run, this.row(message));
  }

  /** A created run starts: its session becomes `running` with the user's message. */
  async saveStart(message: SavedMessage): Promise<void> {
    await this.store.sessions.markRunning(this.sessionId, isoNow(), this.row(message));
  }

  async saveTurn(message: SavedMessage, iterations: number, usage: Usage): Promise<void> {
    this.throwIfDeltaFailed();
    await this.store.runs.saveTurn(this.runId, this.row(message), { iterations, input_tokens: usage.inputTokens, output_tokens: usage.outputTokens });
  }

  /** The run ends completed with its final answer, and its session is settled: see RunsRepository.finish (one statement on PostgreSQL). */
  saveEnd(completion: Completion, settle: Parameters<Store['runs']['finish']>[2], message: SavedMessage): ReturnType<Store['runs']['finish']> {
    this.throwIfDeltaFailed();
    return this.store.runs.finish(this.runId, completion, settle, this.row(message));
  }

  private row(message: SavedMessage): NewMessage {
    return {
      id: newId(),
      session_id: this.sessionId,
      run_id: this.runId,
      role: message.role,
      content: withoutNul(message.content),
      tool_calls: message.tool_calls === undefined ? null : withoutNul(message.tool_calls),
      tool_call_id: message.tool_call_id ?? null,
      attachments: message.attachments?.length ? JSON.stringify(message.attachments) : null,
      created_at: isoNow(),
    };
  }

  private throwIfDeltaFailed(): void {
    if (this.deltaFailure) throw this.deltaFailure;
  }
}
