import { isoNow } from '../core/ids.js';
import type { EventAppender } from './appender.js';
import type { EventBus } from './bus.js';
import type { EventDraft, EventStore } from './event-store.js';
import { GroupCommitAppender } from './group-commit.js';
import type { LogEventType, StoredEvent } from './types.js';
import { WriteBehindAppender } from './write-behind.js';

/**
 * The append-only event log: appends go through the strategy that fits the store (write-behind
 * token deltas for a single-writer store, group commit for a shared one); reads go to the store
 * once everything already published can be read back, so replay-then-live never sees a gap.
 */
export class EventLog {
  private readonly appender: EventAppender;

  constructor(
    private readonly store: EventStore,
    bus: EventBus,
  ) {
    this.appender = store.kind === 'local' ? new WriteBehindAppender(store, bus) : new GroupCommitAppender(store, bus);
  }

  /** Appends an event; it is durable when the promise resolves. */
  append(sessionId: string, runId: string | null, type: LogEventType, data: Record<string, unknown>): Promise<StoredEvent> {
    return this.appender.append(draft(sessionId, runId, type, data), data);
  }

  /**
   * Appends a token delta (`content`, `thinking`) given as its JSON text, without waiting for it;
   * see WriteBehindAppender for what a crash may lose.
   */
  appendDelta(sessionId: string, runId: string | null, type: 'content' | 'thinking', json: string, onError: (error: unknown) => void): void {
    this.appender.appendDelta({ sessionId, runId, type, json, createdAt: isoNow() }, onError);
  }

  /**
   * A session this process has just created: a log that numbers events itself starts its counter
   * at 0 without reading it (on PostgreSQL a round trip before the first run's first event).
   */
  sessionCreated(sessionId: string): void {
    if (this.store.kind === 'local') this.store.created(sessionId);
  }

  /** Resolves once every event appended so far is durable and published. */
  drain(): Promise<void> {
    return this.appender.drain();
  }

  /**
   * The session's events after a cursor: what is written, then what is published but still
   * waiting for its write (taken first: a write in between puts events in both, dropped by seq).
   * Opening a stream thus never forces a commit.
   */
  async listAfter(sessionId: string, afterSeq: number, limit = 1000): Promise<StoredEvent[]> {
    const waiting = this.appender.publishedUnwritten(sessionId, afterSeq);
    const written = await this.store.listAfterSeq(sessionId, afterSeq, limit);
    // A full page may have more written events before the waiting ones: they come with the next page.
    if (waiting.length === 0 || written.length >= limit) return written;
    const last = written.at(-1)?.seq ?? afterSeq;
    return written.concat(waiting.filter((event) => event.seq > last).slice(0, limit - written.length));
  }

  async listForUserAfter(userId: string, afterId: number, limit = 1000): Promise<StoredEvent[]> {
    await this.appender.readable();
    return this.store.listForUserAfterId(userId, afterId, limit);
  }

  /**
   * The session's last published cursor: where a stream without Last-Event-ID starts, so that
   * an event numbered but not yet published (waiting for its write) still reaches it.
   */
  async headSeq(sessionId: string): Promise<number> {
    const stored = await this.store.headSeq(sessionId);
    const waiting = this.appender.firstUnpublished(sessionId);
    return waiting ? Math.min(stored, waiting.seq - 1) : stored;
  }

  /** The last published global id: where a Service API stream without Last-Event-ID starts. */
  async headId(): Promise<number> {
    const stored = await this.store.headId();
    const waiting = this.appender.firstUnpublished();
    return waiting ? Math.min(stored, waiting.id - 1) : stored;
  }

  /** Writes what is left and records a clean shutdown. */
  async close(): Promise<void> {
    await this.appender.drain();
    await this.store.close();
  }
}

function draft(sessionId: string, runId: string | null, type: LogEventType, data: Record<string, unknown>): EventDraft {
  return { sessionId, runId, type, json: JSON.stringify(data), createdAt: isoNow() };
}
