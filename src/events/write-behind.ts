import type { EventAppender } from './appender.js';
import { SessionGoneError } from './appender.js';
import type { EventBus } from './bus.js';
import { CursorSource } from './cursor-source.js';
import { type EventCursors, type EventDraft, type LocalEventStore, MAX_UNWRITTEN_EVENTS, type WriteResult } from './event-store.js';
import { PublicationOrder } from './publication-order.js';
import { LoggedEvent, type StoredEvent } from './types.js';
import { mergeInCursorOrder, splitBySessionsWaiting, splitOffSessions, type Unwritten } from './unwritten-batches.js';

/** How long a token delta may wait before it is written; bounds what a crash can take back. */
export const WRITE_BEHIND_MS = 250;
/**
 * Least time between two commits for events that wait for theirs. A commit costs about the same
 * for 1 or 1 000 rows (every session touched dirties its own index page), so under load the
 * durable events of many runs share one; at rest the wait is zero.
 */
const MIN_COMMIT_GAP_MS = 4;

/**
 * The single-writer strategy (SQLite; PostgreSQL outside scale-out). Cursors are given in memory
 * as events arrive. Token deltas are published at once and written in batches every
 * WRITE_BEHIND_MS; every other event is written, together with its session's deltas before it,
 * before it is published. Publication follows cursor order: once an event waits for its write,
 * its session's later deltas wait behind it and go out as soon as it does, while other sessions'
 * deltas go on to their subscribers; global subscribers (ordered by id) get those once no lower
 * id waits. One write is in flight at a time (a store may write asynchronously).
 *
 * What a crash can take back: at most the last WRITE_BEHIND_MS of token deltas (never more than
 * MAX_UNWRITTEN_EVENTS), in each session all of them after its last durable event, i.e. part of a
 * model turn that the resumed run streams again after `status {resumed:true}`. Their cursors are
 * never reused.
 */
export class WriteBehindAppender implements EventAppender {
  private unwritten: Unwritten[] = [];
  /** Handed to the store, not yet settled (asynchronous stores only); these come before `unwritten`. */
  private inFlight: Unwritten[] = [];
  /** Which events wait to be published, and the order they go out in. */
  private readonly order: PublicationOrder;
  private timer: NodeJS.Timeout | null = null;
  /** The timer fired while a write was in flight: write everything once it settles. */
  private flushDue = false;
  /** Cancels the scheduled write of events that wait for it, if one is scheduled. */
  private soon: (() => void) | null = null;
  /** Whether the scheduled write takes everything, or only the sessions whose events wait for it. */
  private soonTakesAll = false;
  private lastWriteAt = 0;
  private waiters: Array<() => void> = [];
  private readonly cursors: CursorSource;

  constructor(
    private readonly store: LocalEventStore,
    bus: EventBus,
  ) {
    this.cursors = new CursorSource(store);
    this.order = new PublicationOrder(bus);
  }

  append(draft: EventDraft, data: Record<string, unknown>): Promise<StoredEvent> {
    return new Promise((resolve, reject) => {
      this.cursors.take(draft.sessionId, reject, (cursors) => {
        const event = toEvent(draft, data, cursors);
        if (!event) return reject(new SessionGoneError(draft.sessionId));
        this.unwritten.push({ event, published: false, resolve, reject });
        this.order.hold(event);
        // Durable events of other runs arriving in the same turn of the event loop share the commit.
        this.writeSoon();
      });
    });
  }

  appendDelta(draft: EventDraft, onError: (error: unknown) => void): void {
    // Most deltas find their session's counter in memory: no closure for them.
    const cursors = this.cursors.takeNow(draft.sessionId);
    if (cursors !== undefined) this.acceptDelta(draft, cursors, onError);
    else this.cursors.take(draft.sessionId, onError, (later) => this.acceptDelta(draft, later, onError));
  }

  private acceptDelta(draft: EventDraft, cursors: EventCursors | null, onError: (error: unknown) => void): void {
    const event = toEvent(draft, undefined, cursors);
    if (!event) return onError(new SessionGoneError(draft.sessionId));
    const full = this.unwritten.length + this.inFlight.length >= MAX_UNWRITTEN_EVENTS;
    const publishNow = !full && !this.order.waits(draft.sessionId);
    this.unwritten.push({ event, published: publishNow, onError });
    if (publishNow) {
      this.order.publish([event]);
      this.startTimer();
    } else {
      this.order.hold(event);
      this.writeSoon(full);
    }
  }

  async drain(): Promise<void> {
    await this.cursors.settled();
    return this.readable();
  }

  readable(): Promise<void> {
    if (this.allWritten()) return Promise.resolve();
    this.write(true);
    if (this.allWritten()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  publishedUnwritten(sessionId: string, afterSeq: number): StoredEvent[] {
    const events: StoredEvent[] = [];
    // A session's entries are in cursor order across both lists; its first unpublished one ends what is readable.
    for (const list of [this.inFlight, this.unwritten]) {
      for (const entry of list) {
        if (entry.event.sessionId !== sessionId) continue;
        if (!entry.published) return events;
        if (entry.event.seq > afterSeq) events.push(entry.event);
      }
    }
    return events;
  }

  firstUnpublished(sessionId?: string): StoredEvent | undefined {
    return this.order.firstWaiting(sessionId);
  }

  private allWritten(): boolean {
    return this.unwritten.length === 0 && this.inFlight.length === 0;
  }

  /**
   * Writes what is unwritten, then publishes and settles it in order; retries later when busy.
   * `all`: everything (the timer, a reader). Otherwise only the sessions with an event waiting
   * for its write: each such session's entries go together (nothing stored after a gap), while
   * other sessions' published deltas keep waiting for the timer, which keeps urgent writes small.
   */
  private write(all: boolean): void {
    this.soon?.();
    this.soon = null;
    // The write in flight looks at what arrived meanwhile when it settles.
    if (this.inFlight.length > 0 || this.unwritten.length === 0) return;
    const [batch, rest] = all ? splitOffSessions(this.unwritten, this.store.maxEventsPerWrite) : splitBySessionsWaiting(this.unwritten);
    if (batch.length === 0) return;
    if (rest.length === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.flushDue = false;
    }
    let result: WriteResult | Promise<WriteResult>;
    try {
      result = this.store.write(batch.map((entry) => entry.event));
    } catch (error) {
      this.unwritten = rest;
      return this.failed(batch, error);
    }
    if (result instanceof Promise) {
      this.unwritten = rest;
      this.inFlight = batch;
      result.then(
        (settled) => {
          this.inFlight = [];
          if (settled.busy) this.unwritten = mergeInCursorOrder(batch, this.unwritten);
          else this.written(batch, settled.rejected);
          this.continueAfterWrite();
        },
        (error: unknown) => {
          this.inFlight = [];
          this.failed(batch, error);
          this.continueAfterWrite();
        },
      );
      return;
    }
    if (result.busy) return this.writeSoon(all);
    this.unwritten = rest;
    this.written(batch, result.rejected);
    // A flush cut short by maxEventsPerWrite goes on after the streams have had a turn.
    if (all && rest.length > 0) this.writeSoon(true);
  }

  /** Publishes the batch's events that waited for their write, in order, and settles their appends. */
  private written(batch: Unwritten[], rejected: Set<number>): void {
    this.lastWriteAt = performance.now();
    const toPublish: StoredEvent[] = [];
    for (let index = 0; index < batch.length; index++) {
      const entry = batch[index]!;
      if (entry.published) continue;
      this.order.unhold(entry.event);
      if (!rejected.has(entry.event.id)) toPublish.push(entry.event);
    }
    if (toPublish.length > 0) this.order.publish(toPublish);
    for (let index = 0; index < batch.length; index++) {
      const entry = batch[index]!;
      if (rejected.has(entry.event.id)) (entry.reject ?? entry.onError)?.(new SessionGoneError(entry.event.sessionId));
      else entry.resolve?.(entry.event);
    }
    this.releaseDeltas();
    if (this.allWritten()) this.wakeWaiters();
  }

  /** The database failed outright: nothing of the batch is stored; say so to everyone waiting on it. */
  private failed(batch: Unwritten[], error: unknown): void {
    for (const entry of batch) {
      this.order.unhold(entry.event);
      (entry.reject ?? entry.onError)?.(error);
    }
    this.releaseDeltas();
    if (this.allWritten()) this.wakeWaiters();
  }

  /**
   * Deltas that waited only because an earlier event of their session was not yet published go
   * out as soon as it is (they are written later, like any delta), up to the limit of published
   * unwritten events. Called with no write in flight, so every unpublished event is here.
   */
  private releaseDeltas(): void {
    if (!this.order.anyWaiting) return this.order.releaseToAll();
    const released: StoredEvent[] = [];
    let publishedUnwritten = 0;
    const unwritten = this.unwritten;
    for (let index = 0; index < unwritten.length; index++) if (unwritten[index]!.published) publishedUnwritten++;
    let waiting: Set<string> | undefined;
    for (let index = 0; index < unwritten.length; index++) {
      const entry = unwritten[index]!;
      if (entry.published) continue;
      if (publishedUnwritten >= MAX_UNWRITTEN_EVENTS) break;
      const sessionId = entry.event.sessionId;
      // A durable event, and everything of its session after it, waits for its write.
      if (entry.resolve || waiting?.has(sessionId)) {
        (waiting ??= new Set()).add(sessionId);
        continue;
      }
      entry.published = true;
      publishedUnwritten++;
      this.order.unhold(entry.event);
      released.push(entry.event);
    }
    if (released.length > 0) {
      this.order.publish(released);
      this.startTimer();
    } else this.order.releaseToAll();
  }

  /** After an asynchronous write: what waits for a write, a reader waiting for everything, or a due flush goes next. */
  private continueAfterWrite(): void {
    if (this.unwritten.length === 0) return;
    if (this.waiters.length > 0 || this.flushDue) this.writeSoon(true);
    else if (this.order.anyWaiting) this.writeSoon(this.unwritten.length >= MAX_UNWRITTEN_EVENTS);
    else this.startTimer();
  }

  /** Published deltas are written at most WRITE_BEHIND_MS after the first of them. */
  private startTimer(): void {
    this.timer ??= setTimeout(this.onTimer, WRITE_BEHIND_MS);
  }

  private readonly onTimer = () => {
    this.timer = null;
    if (this.inFlight.length > 0) this.flushDue = true;
    else this.write(true);
  };

  private writeSoon(all = false): void {
    this.soonTakesAll ||= all;
    if (this.soon) return;
    const fire = () => {
      this.soon = null;
      const takeAll = this.soonTakesAll;
      this.soonTakesAll = false;
      this.write(takeAll);
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

function toEvent(draft: EventDraft, data: Record<string, unknown> | undefined, cursors: EventCursors | null): StoredEvent | null {
  if (!cursors) return null;
  return new LoggedEvent(cursors.id, draft.sessionId, cursors.seq, draft.runId, draft.type, draft.json, draft.createdAt, data);
}
