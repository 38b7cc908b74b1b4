import type { StoredEvent } from './types.js';

/** Named frame of the Chat SSE and the session stream, or null when the event is not shown there. */
export interface NamedFrame {
  event: string;
  json: string;
}

const NAMED_AS_IS = new Set(['thinking', 'tool_call', 'tool_result', 'content', 'confirm_required', 'confirm_resolved', 'done', 'error', 'working_memory', 'artifact']);

export function toNamedFrame(event: StoredEvent): NamedFrame | null {
  if (NAMED_AS_IS.has(event.type)) return { event: event.type, json: event.json };
  if (event.type === 'run_started') {
    return { event: 'status', json: JSON.stringify({ run_id: event.runId, state: 'running', kind: event.data.kind }) };
  }
  if (event.type === 'status' || event.type === 'run_finished') {
    return { event: 'status', json: JSON.stringify({ run_id: event.runId, ...event.data }) };
  }
  return null;
}

/** The Service API stream's unnamed `data:` JSON (typed by `type`), or null when not shown there. */
export function toServiceFrame(event: StoredEvent): string | null {
  // Seed fidelity: `task_id` only where the seed shows it (task_started, task_completed); every
  // frame correlates by `run_id`, since seed clients file any frame with a task_id under that task.
  const base = { session_id: event.sessionId, run_id: event.runId };
  const data = event.data;
  switch (event.type) {
    case 'run_started':
      return JSON.stringify({ type: 'task_started', task_id: event.runId, ...base, task_kind: data.kind });
    case 'status':
      // A run resumed after a restart streams its interrupted model turn again from the start.
      if (data.resumed) return JSON.stringify({ type: 'assistant_message_restarted', ...base });
      if (data.state === 'model_retrying' || data.state === 'model_fallback') return JSON.stringify({ type: 'model_status', ...base, ...data });
      return null;
    case 'user_message':
      return JSON.stringify({ type: 'user_message', ...base, content: data.content });
    case 'content':
      return JSON.stringify({ type: 'assistant_message_delta', ...base, delta: data.text });
    case 'message_completed':
      return JSON.stringify({ type: 'assistant_message_completed', ...base, content: data.content });
    case 'tool_call':
      return JSON.stringify({ type: 'tool_call_started', ...base, call_id: data.call_id, name: data.tool, args: data.args });
    case 'tool_result':
      return JSON.stringify({
        type: 'tool_call_completed',
        ...base,
        call_id: data.call_id,
        name: data.tool,
        output: data.result,
        duration_ms: data.duration_ms,
        success: data.success,
      });
    case 'confirm_required':
      return JSON.stringify({ type: 'approval_required', ...base, request_id: data.action_id, call_id: data.call_id, name: data.tool, args: data.args });
    case 'confirm_resolved':
      return JSON.stringify({ type: 'approval_resolved', ...base, request_id: data.action_id, approved: data.approved });
    case 'error':
      return JSON.stringify({ type: 'stream_error', ...base, error: data.message, code: data.code });
    case 'run_finished':
      return JSON.stringify({ type: 'task_completed', task_id: event.runId, ...base, success: data.success, turns: data.turns, duration_ms: data.duration_ms });
    default:
      return null;
  }
}
