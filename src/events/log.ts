import { isoNow } from '../core/ids.js';
import type { EventRow } from '../store/schema.js';
import type { EventDraft, EventsRepository } from '../store/repositories/events.js';
import type { EventBus } from './bus.js';
import type { LogEventType, StoredEvent } from './types.js';

interface Pending {
  draft: EventDraft;
  data: Record<string, unknown>;
  resolve(event: StoredEvent): void;
  reject(error: unknown): void;
}

/** Events per transaction: 6 columns each keeps an INSERT far below SQLite's and PostgreSQL's parameter limits. */
const MAX_BATCH = 1000;

export const toStoredEvent = (row: EventRow, data?: Record<string, unknown>): StoredEvent => ({
  id: Number(row.id),
  sessionId: row.session_id,
  seq: Number(row.seq),
  runId: row.run_id,
  type: row.type as LogEventType,
  data: data ?? (JSON.parse(row.data) as Record<string, unknown>),
  createdAt: row.created_at,
  json: row.data,
});

/**
 * The append-only event log. Appends are group-committed: while one transaction is in flight,
 * further events queue up and go into the next one, so under load (many runs relaying tokens)
 * one commit carries many events, and at rest every event commits at once.
 */
export class EventLog {
  private queue: Pending[] = [];
  private flushing = false;
  private idle: Array<() => void> = [];

  constructor(
    private readonly repository: EventsRepository,
    private readonly bus: EventBus,
  ) {}

  append(sessionId: string, runId: string | null, type: LogEventType, data: Record<string, unknown>): Promise<StoredEvent> {
    return new Promise((resolve, reject) => {
      this.queue.push({
        draft: { session_id: sessionId, run_id: runId, type, data: JSON.stringify(data), created_at: isoNow() },
        data,
        resolve,
        reject,
      });
      if (!this.flushing) void this.flush();
    });
  }

  /** Resolves once every event appended so far is committed and published. */
  drain(): Promise<void> {
    if (!this.flushing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    // Wait one macrotask so tokens arriving on other sockets' I/O callbacks join this batch;
    // with a synchronous driver (better-sqlite3) a commit never yields, so nothing else would.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      // Bounded batches: one INSERT must stay under the drivers' bind-parameter limits.
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        await this.commit(batch);
      } catch {
        // One bad event (e.g. its session was deleted mid-run) must not fail the others.
        for (const pending of batch) await this.commit([pending]).catch((error) => pending.reject(error));
      }
      if (this.queue.length > 0 && this.queue.length < MAX_BATCH) await new Promise((resolve) => setImmediate(resolve));
    }
    this.flushing = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private async commit(batch: Pending[]): Promise<void> {
    const rows = await this.repository.append(batch.map((pending) => pending.draft));
    const events = rows.map((row, index) => toStoredEvent(row, batch[index]!.data));
    this.bus.publish(events);
    events.forEach((event, index) => batch[index]!.resolve(event));
  }

  async listAfter(sessionId: string, afterSeq: number, limit = 1000): Promise<StoredEvent[]> {
    return (await this.repository.listAfterSeq(sessionId, afterSeq, limit)).map((row) => toStoredEvent(row));
  }

  async listForUserAfter(userId: string, afterId: number, limit = 1000): Promise<StoredEvent[]> {
    return (await this.repository.listForUserAfterId(userId, afterId, limit)).map((row) => toStoredEvent(row));
  }

  async listForRun(runId: string): Promise<StoredEvent[]> {
    return (await this.repository.listForRun(runId)).map((row) => toStoredEvent(row));
  }
}
