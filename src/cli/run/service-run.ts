import { CliError } from './exit-codes.js';
import { cursorOf, type RunDriver, type RunEvent, type StartedRun } from './run-driver.js';
import type { ServerClient } from './server-client.js';
import { resumableEvents } from './sse-events.js';

interface Envelope<T> {
  success: boolean;
  data: T;
}

/**
 * A run through the Service API, for a local-mode server (no token): `/api/stream` is opened
 * first so no event of the task can be missed, then `POST /api/execute` starts it on the user's
 * service session. The stream's frames are filtered by `run_id` and renamed to the session
 * stream's events, so output and rendering are the same as with a token.
 */
export class ServiceRun implements RunDriver {
  private taskId?: string;
  private starting?: Promise<StartedRun>;
  private firstResponse?: Response;
  private sawError = false;
  private readonly controller = new AbortController();

  constructor(private readonly client: ServerClient) {}

  start(task: string): Promise<StartedRun> {
    this.starting = (async () => {
      this.firstResponse = await this.client.stream('GET', '/api/stream', { signal: this.controller.signal });
      const started = await this.client.json<Envelope<{ task_id: string; status: string }>>('POST', '/api/execute', { prompt: task });
      this.taskId = started.data.task_id;
      return { taskId: this.taskId, queued: started.data.status === 'queued' };
    })();
    return this.starting;
  }

  async *events(): AsyncGenerator<RunEvent> {
    const messages = resumableEvents(async (lastEventId, attempt, signal) => {
      if (attempt === 0) return this.firstResponse!;
      if (lastEventId === undefined) throw new CliError('lost the connection to the server before the task began');
      return this.client.stream('GET', '/api/stream', { lastEventId, signal });
    }, this.controller.signal);
    for await (const message of messages) {
      const frame = JSON.parse(message.data) as Record<string, any>;
      if (frame.run_id !== this.taskId) continue;
      const event = await this.translate(frame);
      if (event) yield { ...event, id: cursorOf(message.id) };
    }
  }

  async answer(actionId: string, approved: boolean, feedback?: string): Promise<void> {
    await this.client.json('POST', `/api/approvals/${encodeURIComponent(actionId)}/confirm`, { approved, ...(feedback ? { user_feedback: feedback } : {}) });
  }

  async stop(): Promise<void> {
    // Cancel exactly this task, never whatever else runs on the service session.
    await this.starting?.catch(() => undefined);
    if (!this.taskId) return;
    await this.client.json('POST', '/api/cancel', { task_id: this.taskId });
  }

  close(): void {
    this.controller.abort();
  }

  /** A Service API frame as the session stream event it stands for (null: not shown there). */
  private async translate(frame: Record<string, any>): Promise<Omit<RunEvent, 'id'> | null> {
    const run_id = frame.run_id;
    switch (frame.type) {
      case 'task_started':
        return { event: 'status', data: { run_id, state: 'running', kind: frame.task_kind } };
      case 'assistant_message_restarted':
        return { event: 'status', data: { run_id, state: 'running', resumed: true } };
      case 'model_status': {
        const { type: _type, session_id: _session, ...data } = frame;
        return { event: 'status', data };
      }
      case 'assistant_message_delta':
        return { event: 'content', data: { run_id, text: frame.delta } };
      case 'tool_call_started':
        return { event: 'tool_call', data: { run_id, tool: frame.name, args: frame.args, call_id: frame.call_id } };
      case 'tool_call_completed':
        return {
          event: 'tool_result',
          data: { run_id, tool: frame.name, result: frame.output, success: frame.success, call_id: frame.call_id, duration_ms: frame.duration_ms },
        };
      case 'approval_required':
        return { event: 'confirm_required', data: { run_id, action_id: frame.request_id, tool: frame.name, args: frame.args, ...(await this.approvalDetails(frame.request_id)) } };
      case 'approval_resolved':
        return { event: 'confirm_resolved', data: { run_id, action_id: frame.request_id, approved: frame.approved } };
      case 'stream_error':
        this.sawError = true;
        return { event: 'error', data: { run_id, message: frame.error, code: frame.code } };
      case 'task_completed': {
        if (!frame.success) return this.sawError ? null : { event: 'error', data: { run_id, message: 'The task did not complete', code: 'FAILED' } };
        const task = await this.client.json<Envelope<{ answer: string | null }>>('GET', `/api/tasks/${encodeURIComponent(run_id)}`);
        return { event: 'done', data: { run_id, content: task.data.answer ?? '', iterations: frame.turns, duration_ms: frame.duration_ms } };
      }
      default:
        return null;
    }
  }

  /** What the approval is about (description, risk), from the pending list. */
  private async approvalDetails(requestId: string): Promise<Record<string, unknown>> {
    const pending = await this.client.json<Envelope<{ items: Array<Record<string, any>> }>>('GET', '/api/approvals').catch(() => undefined);
    const request = pending?.data.items.find((item) => item.request_id === requestId);
    return request ? { operation: request.operation, description: request.description, risk_level: request.risk_level, expires_at: request.expires_at } : {};
  }
}
