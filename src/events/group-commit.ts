import type { EventAppender } from './appender.js';
import { SessionGoneError } from './appender.js';
import type { EventBus } from './bus.js';
import type { EventDraft, SharedEventStore } from './event-store.js';
import { LoggedEvent, type StoredEvent } from './types.js';

interface Queued {
  draft: EventDraft;
  data?: Record<string, unknown>;
  resolve?(event: StoredEvent): void;
  onError(error: unknown): void;
}

/** Drafts per transaction: bounds one statement's size and one commit's latency. */
const MAX_BATCH = 2000;

/**
 * The shared-store strategy (PostgreSQL, several writing processes). Every event is committed
 * before it is published. Commits are grouped: while one is in flight, further events queue up
 * and go into the next, so under load one commit (one round trip) carries many events, and at
 * rest every event commits at once.
 */
export class GroupCommitAppender implements EventAppender {
  private queue: Queued[] = [];
  private flushing = false;
  private idle: Array<() => void> = [];

  constructor(
    private readonly store: SharedEventStore,
    private readonly bus: EventBus,
  ) {}

  append(draft: EventDraft, data: Record<string, unknown>): Promise<StoredEvent> {
    return new Promise((resolve, reject) => this.enqueue({ draft, data, resolve, onError: reject }));
  }

  appendDelta(draft: EventDraft, onError: (error: unknown) => void): void {
    this.enqueue({ draft, onError });
  }

  drain(): Promise<void> {
    if (!this.flushing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Published events are committed already. */
  readable(): Promise<void> {
    return Promise.resolve();
  }

  /** Events are published only once written. */
  publishedUnwritten(): StoredEvent[] {
    return [];
  }

  /** Events get their cursors as they are committed and are published right after. */
  firstUnpublished(): undefined {
    return undefined;
  }

  private enqueue(entry: Queued): void {
    this.queue.push(entry);
    if (!this.flushing) void this.flush();
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    // One macrotask lets tokens arriving in the same I/O phase join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        const cursors = await this.store.append(batch.map((entry) => entry.draft));
        const events: StoredEvent[] = [];
        const settled: Array<[Queued, StoredEvent | null]> = batch.map((entry, index) => {
          const cursor = cursors[index];
          if (!cursor) return [entry, null];
          const { draft } = entry;
          const event = new LoggedEvent(cursor.id, draft.sessionId, cursor.seq, draft.runId, draft.type, draft.json, draft.createdAt, entry.data);
          events.push(event);
          return [entry, event];
        });
        this.bus.publish(events);
        for (const [entry, event] of settled) {
          if (event) entry.resolve?.(event);
          else entry.onError(new SessionGoneError(entry.draft.sessionId));
        }
      } catch (error) {
        for (const entry of batch) entry.onError(error);
      }
    }
    this.flushing = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
