/**
 * The event log's vocabulary. Every run step is one of these, persisted per session; the Chat
 * SSE, the session stream and the Service API stream are projections of it (projections.ts).
 * Each log event maps to at most one frame in each projection, so frame ids stay unique.
 */
export type LogEventType =
  | 'run_started' // {kind, prompt}
  | 'user_message' // {content}
  | 'status' // {state, ...}
  | 'thinking' // {iteration, reasoning}
  | 'content' // {text, iteration}
  | 'message_completed' // {content, iteration}
  | 'tool_call' // {tool, args, call_id, iteration}
  | 'tool_result' // {tool, result, success, call_id, duration_ms}
  | 'confirm_required'
  | 'confirm_resolved'
  | 'working_memory'
  | 'artifact'
  | 'done' // {message, content, artifacts, usage, iterations, duration_ms}
  | 'error' // {message, code}
  | 'run_finished'; // {success, state, turns, duration_ms}

export interface StoredEvent {
  /** Global order across sessions (Service API stream cursor). */
  readonly id: number;
  readonly sessionId: string;
  /** Per-session cursor (session stream and chat SSE). */
  readonly seq: number;
  readonly runId: string | null;
  readonly type: LogEventType;
  readonly data: Record<string, unknown>;
  readonly createdAt: string;
  /** The JSON text of `data` as stored, reused when framing so it is serialized once. */
  readonly json: string;
}

/**
 * A logged event. `data` is parsed from `json` on first use only: a replay that frames events
 * with their stored JSON (the session stream) never parses them.
 */
export class LoggedEvent implements StoredEvent {
  private parsed: Record<string, unknown> | undefined;

  constructor(
    readonly id: number,
    readonly sessionId: string,
    readonly seq: number,
    readonly runId: string | null,
    readonly type: LogEventType,
    readonly json: string,
    readonly createdAt: string,
    data?: Record<string, unknown>,
  ) {
    this.parsed = data;
  }

  get data(): Record<string, unknown> {
    return (this.parsed ??= JSON.parse(this.json) as Record<string, unknown>);
  }
}

/** Delta events are high-volume and compacted after their run finishes. */
export const COMPACTABLE_TYPES: LogEventType[] = ['content', 'thinking'];
