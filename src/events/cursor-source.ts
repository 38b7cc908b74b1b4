import type { EventCursors, LocalEventStore } from './event-store.js';

type Taker = { use(cursors: EventCursors | null): void; fail(error: unknown): void };

/**
 * Hands out cursors in the order appends arrive. An append to a session whose counter the store
 * has not in memory waits for it to be read, and later appends to that session queue behind it,
 * so a session's events are numbered in the order they were appended.
 */
export class CursorSource {
  private readonly loading = new Map<string, { queued: Taker[]; done: Promise<void> }>();

  constructor(private readonly store: LocalEventStore) {}

  /** Calls `use` with the next cursors of the session (null: the session is gone), now or once its counter is read. */
  take(sessionId: string, fail: (error: unknown) => void, use: (cursors: EventCursors | null) => void): void {
    const pending = this.loading.get(sessionId);
    if (pending) {
      pending.queued.push({ use, fail });
      return;
    }
    const cursors = this.store.allocate(sessionId);
    if (cursors !== undefined) return use(cursors);
    const queued: Taker[] = [{ use, fail }];
    const done = this.store.load(sessionId).then(
      () => {
        this.loading.delete(sessionId);
        for (const taker of queued) this.take(sessionId, taker.fail, taker.use);
      },
      (error: unknown) => {
        this.loading.delete(sessionId);
        for (const taker of queued) taker.fail(error);
      },
    );
    this.loading.set(sessionId, { queued, done });
  }

  /** The session's next cursors if they can be had now (null: the session is gone), else undefined: then `take`. */
  takeNow(sessionId: string): EventCursors | null | undefined {
    return this.loading.has(sessionId) ? undefined : this.store.allocate(sessionId);
  }

  /** Resolves once the counters being read have been handed out (or failed). */
  async settled(): Promise<void> {
    while (this.loading.size > 0) await Promise.all([...this.loading.values()].map((load) => load.done));
  }
}
