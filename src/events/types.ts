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
  id: number;
  sessionId: string;
  /** Per-session cursor (session stream and chat SSE). */
  seq: number;
  runId: string | null;
  type: LogEventType;
  data: Record<string, unknown>;
  createdAt: string;
  /** The JSON text of `data` as stored, reused when framing so it is serialized once. */
  json: string;
}

/** Delta events are high-volume and compacted after their run finishes. */
export const COMPACTABLE_TYPES: LogEventType[] = ['content', 'thinking'];
