import { CliError } from './exit-codes.js';
import { cursorOf, type RunDriver, type RunEvent, type StartedRun } from './run-driver.js';
import type { ServerClient } from './server-client.js';
import { resumableEvents } from './sse-events.js';

/**
 * A run through the TokenDance API (a token is needed): a new session in the user's default
 * workspace (or `--session`), `POST /chat/{id}/message` for the run's SSE, and after a
 * disconnect the session stream from the last cursor, filtered to this run.
 */
export class ApiRun implements RunDriver {
  private sessionId?: string;
  private runId?: string;
  private firstResponse?: Response;
  private starting?: Promise<StartedRun>;
  private readonly controller = new AbortController();

  constructor(
    private readonly client: ServerClient,
    private readonly options: { sessionId?: string },
  ) {}

  start(task: string): Promise<StartedRun> {
    this.starting = (async () => {
      this.sessionId = this.options.sessionId ?? (await this.createSession(task));
      this.firstResponse = await this.client.stream('POST', `/api/v1/chat/${encodeURIComponent(this.sessionId)}/message`, {
        body: { content: task },
        signal: this.controller.signal,
      });
      return { sessionId: this.sessionId };
    })();
    return this.starting;
  }

  async *events(): AsyncGenerator<RunEvent> {
    const sessionPath = `/api/v1/sessions/${encodeURIComponent(this.sessionId!)}/stream`;
    const messages = resumableEvents(async (lastEventId, attempt, signal) => {
      if (attempt === 0) return this.firstResponse!;
      if (lastEventId === undefined || !this.runId) throw new CliError('lost the connection to the server before the run began');
      return this.client.stream('GET', sessionPath, { lastEventId, signal });
    }, this.controller.signal);
    for await (const message of messages) {
      const data = JSON.parse(message.data) as Record<string, any>;
      // The session stream carries every run of the session; the chat stream only this one.
      if (this.runId && data.run_id !== undefined && data.run_id !== this.runId) continue;
      if (!this.runId && typeof data.run_id === 'string') this.runId = data.run_id;
      if (message.event === 'reset') throw new CliError('the run history was compacted while disconnected: see the session in the web app');
      yield { event: message.event ?? 'message', id: cursorOf(message.id), data };
    }
  }

  async answer(actionId: string, approved: boolean, feedback?: string): Promise<void> {
    await this.client.json('POST', `/api/v1/hitl/${encodeURIComponent(actionId)}/confirm`, { approved, ...(feedback ? { user_feedback: feedback } : {}) });
  }

  async stop(): Promise<void> {
    // A message still on its way would start the run after the stop: wait for it first.
    await this.starting?.catch(() => undefined);
    // Only a run this command started: a refused message must not stop someone else's run of the session.
    if (!this.firstResponse) return;
    await this.client.json('POST', `/api/v1/chat/${encodeURIComponent(this.sessionId!)}/stop`);
  }

  close(): void {
    this.controller.abort();
  }

  /** A session in the default workspace (the one registration created: the oldest the user owns). */
  private async createSession(task: string): Promise<string> {
    const workspaces = await this.client.json<{ items: Array<{ id: string; role: string }> }>('GET', '/api/v1/workspaces');
    const workspace = workspaces.items.find((item) => item.role === 'owner') ?? workspaces.items[0];
    if (!workspace) throw new CliError('this account has no workspace to run the task in');
    const title = (task.split('\n', 1)[0] ?? '').trim().slice(0, 80) || 'tokendance run';
    const session = await this.client.json<{ id: string }>('POST', '/api/v1/sessions', { workspace_id: workspace.id, title });
    return session.id;
  }
}
