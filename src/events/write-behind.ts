import type { EventAppender } from './appender.js';
import { SessionGoneError } from './appender.js';
import type { EventBus } from './bus.js';
import { type EventDraft, type LocalEventStore, MAX_UNWRITTEN_EVENTS } from './event-store.js';
import { LoggedEvent, type StoredEvent } from './types.js';

/** How long a token delta may wait before it is written; bounds what a crash can take back. */
export const WRITE_BEHIND_MS = 100;
/**
 * Least time between two commits for events that wait for theirs. A commit costs about the same
 * for 1 or 1 000 rows (every session touched dirties its own index page), so under load the
 * durable events of many runs share one; at rest the wait is zero.
 */
const MIN_COMMIT_GAP_MS = 4;

interface Unwritten {
  event: StoredEvent;
  published: boolean;
  resolve?(event: StoredEvent): void;
  reject?(error: unknown): void;
  onError?(error: unknown): void;
}

/**
 * The single-writer strategy (SQLite). Cursors are given in memory as events arrive. Token
 * deltas are published at once and written in batches every WRITE_BEHIND_MS; every other event
 * is written, together with the deltas before it, before it is published. Publication follows
 * cursor order: once an event waits for its write, later deltas wait behind it.
 *
 * What a crash can take back: at most the last WRITE_BEHIND_MS of token deltas (never more than
 * MAX_UNWRITTEN_EVENTS), all of them after the last durable event, i.e. part of a model turn that
 * the resumed run streams again after `status {resumed:true}`. Their cursors are never reused.
 */
export class WriteBehindAppender implements EventAppender {
  private unwritten: Unwritten[] = [];
  /** True while some unwritten event is not yet published. */
  private blocked = false;
  private timer: NodeJS.Timeout | null = null;
  /** Cancels the scheduled write of events that wait for it, if one is scheduled. */
  private soon: (() => void) | null = null;
  private lastWriteAt = 0;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly store: LocalEventStore,
    private readonly bus: EventBus,
  ) {}

  append(draft: EventDraft, data: Record<string, unknown>): Promise<StoredEvent> {
    return new Promise((resolve, reject) => {
      const event = this.number(draft, data);
      if (!event) return reject(new SessionGoneError(draft.sessionId));
      this.unwritten.push({ event, published: false, resolve, reject });
      this.blocked = true;
      // Durable events of other runs arriving in the same turn of the event loop share the commit.
      this.writeSoon();
    });
  }

  appendDelta(draft: EventDraft, data: Record<string, unknown>, onError: (error: unknown) => void): void {
    const event = this.number(draft, data);
    if (!event) return onError(new SessionGoneError(draft.sessionId));
    const publishNow = !this.blocked && this.unwritten.length < MAX_UNWRITTEN_EVENTS;
    this.unwritten.push({ event, published: publishNow, onError });
    if (publishNow) {
      this.bus.publish([event]);
      this.timer ??= setTimeout(() => this.write(), WRITE_BEHIND_MS);
    } else {
      this.blocked = true;
      this.writeSoon();
    }
  }

  drain(): Promise<void> {
    return this.readable();
  }

  readable(): Promise<void> {
    if (this.unwritten.length === 0) return Promise.resolve();
    this.write();
    if (this.unwritten.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  publishedUnwritten(sessionId: string, afterSeq: number): StoredEvent[] {
    const events: StoredEvent[] = [];
    for (const entry of this.unwritten) {
      if (!entry.published) break;
      if (entry.event.sessionId === sessionId && entry.event.seq > afterSeq) events.push(entry.event);
    }
    return events;
  }

  firstUnpublished(sessionId?: string): StoredEvent | undefined {
    if (!this.blocked) return undefined;
    for (const entry of this.unwritten) {
      if (!entry.published && (sessionId === undefined || entry.event.sessionId === sessionId)) return entry.event;
    }
    return undefined;
  }

  private number(draft: EventDraft, data: Record<string, unknown>): StoredEvent | null {
    const cursors = this.store.allocate(draft.sessionId);
    if (!cursors) return null;
    return new LoggedEvent(cursors.id, draft.sessionId, cursors.seq, draft.runId, draft.type, draft.json, draft.createdAt, data);
  }

  /** Writes everything unwritten, then publishes and settles it in order; retries later when busy. */
  private write(): void {
    this.soon?.();
    this.soon = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.unwritten.length === 0) return;
    const batch = this.unwritten;
    let rejected: Set<number>;
    try {
      const result = this.store.write(batch.map((entry) => entry.event));
      if (result.busy) {
        this.writeSoon();
        return;
      }
      rejected = result.rejected;
      this.lastWriteAt = performance.now();
    } catch (error) {
      // The database failed outright: nothing of the batch is stored; say so to everyone waiting.
      this.unwritten = [];
      this.blocked = false;
      for (const entry of batch) (entry.reject ?? entry.onError)?.(error);
      this.wakeWaiters();
      return;
    }
    this.unwritten = [];
    this.blocked = false;
    const toPublish: StoredEvent[] = [];
    for (const entry of batch) {
      if (rejected.has(entry.event.id)) continue;
      if (!entry.published) toPublish.push(entry.event);
    }
    if (toPublish.length > 0) this.bus.publish(toPublish);
    for (const entry of batch) {
      if (rejected.has(entry.event.id)) (entry.reject ?? entry.onError)?.(new SessionGoneError(entry.event.sessionId));
      else entry.resolve?.(entry.event);
    }
    this.wakeWaiters();
  }

  private writeSoon(): void {
    if (this.soon) return;
    const fire = () => {
      this.soon = null;
      this.write();
    };
    const wait = this.lastWriteAt + MIN_COMMIT_GAP_MS - performance.now();
    if (wait > 0) {
      const timer = setTimeout(fire, wait);
      this.soon = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(fire);
      this.soon = () => clearImmediate(immediate);
    }
  }

  private wakeWaiters(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}
