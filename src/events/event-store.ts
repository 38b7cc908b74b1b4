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
export const MAX_UNWRITTEN_EVENTS = 4096;

/** Reading the log; the same for every kind of store. */
export interface EventReader {
  /**
   * The session's events after a cursor, in order. Both reads return at least `limit` events
   * unless nothing more is stored (possibly more: a packed row is returned whole).
   */
  listAfterSeq(sessionId: string, afterSeq: number, limit: number): Promise<StoredEvent[]>;
  /** Events of every session in the user's workspaces after a global id. */
  listForUserAfterId(userId: string, afterId: number, limit: number): Promise<StoredEvent[]>;
  /** The session's highest cursor handed out so far (0 for none). */
  headSeq(sessionId: string): Promise<number>;
  /** The highest global id handed out so far. */
  headId(): Promise<number>;
}

/** `busy`: nothing was written, try again later. Otherwise the ids of events whose session is gone. */
export type WriteResult = { busy: true } | { busy: false; rejected: Set<number> };

/**
 * A store with exactly one writing process (SQLite; PostgreSQL outside scale-out). The log
 * numbers events itself, in memory, as they arrive, and writes them in batches; `allocate` never
 * hands out a cursor that may have been published before a crash (see MAX_UNWRITTEN_EVENTS).
 */
export interface LocalEventStore extends EventReader {
  readonly kind: 'local';
  /**
   * A store that writes synchronously blocks the event loop for the whole write: the log writes
   * at most about this many events per transaction (whole sessions, so each session's rows still
   * go in once per batch) and the rest a few milliseconds later.
   */
  readonly maxEventsPerWrite?: number;
  /**
   * The next cursors for an event of the session; null when the session does not exist;
   * undefined when the session's counter is not in memory yet: `load` it, then ask again.
   */
  allocate(sessionId: string): EventCursors | null | undefined;
  /** Brings the session's counter into memory (a no-op for a store that reads it synchronously). */
  load(sessionId: string): Promise<void>;
  /** A session this process has just created: its counter is 0, known without reading it. */
  created(sessionId: string): void;
  /**
   * Writes the events in one transaction: synchronously (SQLite, which answers `busy` while
   * another transaction is open on its connection) or asynchronously (PostgreSQL). One write at
   * a time: the log starts the next only once this one has settled.
   */
  write(events: StoredEvent[]): WriteResult | Promise<WriteResult>;
  /** Marks a clean shutdown (every event written), so the next start needs no cursor skip. */
  close(): void | Promise<void>;
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
