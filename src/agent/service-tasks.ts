import { notFound } from '../core/errors.js';
import { isoNow } from '../core/ids.js';
import { KeyedLock } from '../core/keyed-lock.js';
import type { SessionsService } from '../sessions/service.js';
import type { RunRow, SessionRow } from '../store/schema.js';
import type { Store } from '../store/store.js';
import type { RunManager } from './run-manager.js';

export type ServiceState = 'Idle' | 'Running' | 'WaitingForApproval';

/**
 * The Service API's tasks: each user has one service session, where a task runs at once when
 * the session is idle and otherwise waits its turn (FIFO) behind the one that runs.
 */
export class ServiceTasks {
  private readonly creating = new KeyedLock();

  constructor(
    private readonly deps: { store: Store; sessions: SessionsService; runs: RunManager },
  ) {}

  /** Runs now on the user's service session, or queues behind the current task. */
  async execute(userId: string, prompt: string): Promise<{ run: RunRow; status: 'started' | 'queued' }> {
    this.deps.runs.refuseWhileShuttingDown();
    return this.deps.runs.startOrQueue(userId, await this.serviceSession(userId), prompt);
  }

  async serviceSession(userId: string): Promise<SessionRow> {
    // One per user, created on first use: two first requests at once must not make two.
    return this.creating.run(userId, async () => {
      const existing = await this.deps.store.sessions.findServiceSession(userId);
      if (existing) return existing;
      const workspace = await this.deps.store.workspaces.defaultFor(userId);
      if (!workspace) throw notFound('Default workspace');
      const created = await this.deps.sessions.create(userId, { workspace_id: workspace.id, title: 'Service API' }, 'service');
      return (await this.deps.store.sessions.findById(created.id))!;
    });
  }

  async status(userId: string) {
    const session = await this.serviceSession(userId);
    const live = await this.deps.store.runs.findLive(session.id);
    const queued = await this.deps.store.runs.listQueued(session.id);
    const state: ServiceState = !live ? 'Idle' : live.state === 'waiting_approval' ? 'WaitingForApproval' : 'Running';
    return { session_id: session.id, is_running: Boolean(live), state, queued: queued.length, current_task_id: live?.id ?? null };
  }

  /** Cancels one task (default: the running one) of the user's service session. */
  async cancel(userId: string, taskId?: string): Promise<{ cancelled: boolean; task_id: string | null }> {
    const session = await this.serviceSession(userId);
    const run = taskId ? await this.deps.store.runs.findById(taskId) : await this.deps.store.runs.findLive(session.id);
    if (taskId && (!run || run.user_id !== userId || run.kind !== 'execute')) throw notFound('Task');
    if (!run) return { cancelled: false, task_id: null };
    if (run.state === 'queued') {
      const cancelled = await this.deps.store.runs.transition(run.id, ['queued'], { state: 'cancelled', error_code: 'CANCELLED', error: 'Cancelled before it started', finished_at: isoNow() });
      return { cancelled, task_id: run.id };
    }
    return { cancelled: await this.deps.runs.stopRun(run.id), task_id: run.id };
  }
}
