import type { LogEventType, StoredEvent } from './types.js';

/** An event before the log has given it cursors. */
export interface EventDraft {
  sessionId: string;
  runId: string | null;
  type: LogEventType;
  json: string;
  createdAt: string;
}

export interface EventCursors {
  id: number;
  seq: number;
}

/**
 * Published-but-unwritten events a single-writer log may hold at any moment. After a crash the
 * log skips this many cursors, so no cursor a client saw before the crash is ever handed out again.
 */
export const MAX_UNWRITTEN_EVENTS = 2048;

/** Reading the log; the same for every kind of store. */
export interface EventReader {
  listAfterSeq(sessionId: string, afterSeq: number, limit: number): Promise<StoredEvent[]>;
  /** Events of every session in the user's workspaces after a global id. */
  listForUserAfterId(userId: string, afterId: number, limit: number): Promise<StoredEvent[]>;
  /** The session's highest cursor handed out so far (0 for none). */
  headSeq(sessionId: string): Promise<number>;
  /** The highest global id handed out so far. */
  headId(): Promise<number>;
}

/**
 * A store with exactly one writing process (SQLite). The log numbers events itself, in memory,
 * as they arrive, and writes them in batches; `allocate` never hands out a cursor that may have
 * been published before a crash (see MAX_UNWRITTEN_EVENTS).
 */
export interface LocalEventStore extends EventReader {
  readonly kind: 'local';
  /** The next cursors for an event of the session, or null when the session does not exist. */
  allocate(sessionId: string): EventCursors | null;
  /**
   * Writes the events in one transaction, synchronously. `busy` when the database cannot take a
   * write right now (another transaction is open): nothing was written, try again later.
   * Otherwise the ids of events that could not be stored because their session is gone.
   */
  write(events: StoredEvent[]): { busy: true } | { busy: false; rejected: Set<number> };
  /** Marks a clean shutdown (every event written), so the next start needs no cursor skip. */
  close(): void;
}

/**
 * A store several processes may write (PostgreSQL, SPEC §11). The database numbers events as it
 * commits them, in commit order, so a reader that has seen id N never finds a smaller id later.
 */
export interface SharedEventStore extends EventReader {
  readonly kind: 'shared';
  /** Commits the drafts in one transaction; null for a draft whose session is gone. */
  append(drafts: EventDraft[]): Promise<Array<EventCursors | null>>;
  close(): void;
}

export type EventStore = LocalEventStore | SharedEventStore;
