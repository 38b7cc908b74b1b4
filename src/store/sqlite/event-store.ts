import type BetterSqlite3 from 'better-sqlite3';
import { type EventCursors, type LocalEventStore, MAX_UNWRITTEN_EVENTS, type WriteResult } from '../../events/event-store.js';
import { type LogEventType, LoggedEvent, type StoredEvent } from '../../events/types.js';

/** Sessions whose last cursor is kept in memory; past this the counters are saved and the cache emptied. */
const MAX_CACHED_SESSIONS = 10_000;
/** Rows per INSERT statement: one call into the driver for many rows instead of one per row. */
const ROWS_PER_INSERT = 32;

type Row = [id: number, sessionId: string, seq: number, runId: string | null, type: string, data: string, createdAt: string];

const COLUMNS = 'id, session_id, seq, run_id, type, data, created_at';
const toEvent = (row: Row): StoredEvent => new LoggedEvent(row[0], row[1], row[2], row[3], row[4] as LogEventType, row[5], row[6]);
const isBusy = (error: unknown) => String((error as { code?: unknown }).code ?? '').startsWith('SQLITE_BUSY');
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * The event log on SQLite: one writing process, so cursors are numbered in memory and events are
 * written with prepared statements on the same connection as the rest of the store. Neither a
 * write nor a read runs inside a Kysely transaction left open across an await: a write reports
 * `busy` (the log tries again on the next turn of the event loop), a read waits for it to end.
 *
 * Cursors are never handed out twice, also across crashes. `event_log_state` holds
 * `clean_shutdown` (0 while a process runs) and `max_id` (the last id handed out, saved at a
 * clean stop with every session's counter) and `max_deleted_id` (kept by a trigger: the highest id
 * of a deleted row, since ids are not AUTOINCREMENT). Finding `clean_shutdown` = 0 at start means the last
 * process died with up to MAX_UNWRITTEN_EVENTS published but unwritten events: every counter is
 * then moved that far past what is stored, durably, before anything is appended.
 */
export class SqliteEventStore implements LocalEventStore {
  readonly kind = 'local';
  /** ~15 µs an event: a write stalls every stream for at most ~10 ms. */
  readonly maxEventsPerWrite = 640;
  private nextId: number;
  private readonly lastSeq = new Map<string, number>();
  private readonly statements;
  private readonly writeBatch: BetterSqlite3.Transaction<(events: StoredEvent[], rejected: Set<number>) => void>;

  constructor(private readonly connection: BetterSqlite3.Database) {
    const c = connection;
    this.statements = {
      // Saved at clean shutdown and after a crash; between, the log's own index has the last seq, and
      // compaction (which may delete the last rows) records how far it went.
      sessionSeq: c
        .prepare<[string, string], number>(
          'select max(last_event_seq, compacted_through_seq, coalesce((select max(seq) from events where session_id = ?), 0)) from sessions where id = ?',
        )
        .pluck(),
      insert: c.prepare(`insert into events (${COLUMNS}) values (?, ?, ?, ?, ?, ?, ?)`),
      insertMany: c.prepare(`insert into events (${COLUMNS}) values ${Array(ROWS_PER_INSERT).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ')}`),
      raiseSessionSeq: c.prepare<[number, string, number]>('update sessions set last_event_seq = ? where id = ? and last_event_seq < ?'),
      afterSeq: c.prepare<[string, number, number], Row>(`select ${COLUMNS} from events where session_id = ? and seq > ? order by seq limit ?`).raw(),
      forUserAfterId: c
        .prepare<[number, string, number], Row>(
          // `+session_id`: walk the ids in order and filter, never the per-session index plus a sort of every later row.
          `select ${COLUMNS} from events where id > ? and +session_id in (` +
            'select sessions.id from sessions join workspace_members on workspace_members.workspace_id = sessions.workspace_id where workspace_members.user_id = ?' +
            ') order by id limit ?',
        )
        .raw(),
      getState: c.prepare<[string], number>('select value from event_log_state where name = ?').pluck(),
      setState: c.prepare<[string, number]>(
        'insert into event_log_state (name, value) values (?, ?) on conflict (name) do update set value = excluded.value',
      ),
    };
    const insertOne = (event: StoredEvent, rejected: Set<number>) => {
      try {
        this.statements.insert.run(event.id, event.sessionId, event.seq, event.runId, event.type, event.json, event.createdAt);
      } catch (error) {
        // The session was deleted after the event was appended.
        if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_FOREIGNKEY') throw error;
        rejected.add(event.id);
      }
    };
    const values: unknown[] = new Array(ROWS_PER_INSERT * 7);
    this.writeBatch = c.transaction((events: StoredEvent[], rejected: Set<number>) => {
      let at = 0;
      for (; at + ROWS_PER_INSERT <= events.length; at += ROWS_PER_INSERT) {
        for (let row = 0; row < ROWS_PER_INSERT; row++) {
          const event = events[at + row]!;
          const base = row * 7;
          values[base] = event.id;
          values[base + 1] = event.sessionId;
          values[base + 2] = event.seq;
          values[base + 3] = event.runId;
          values[base + 4] = event.type;
          values[base + 5] = event.json;
          values[base + 6] = event.createdAt;
        }
        try {
          this.statements.insertMany.run(values);
        } catch (error) {
          if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_FOREIGNKEY') throw error;
          // The failed statement left nothing behind; row by row tells which rows lost their session.
          for (let row = 0; row < ROWS_PER_INSERT; row++) insertOne(events[at + row]!, rejected);
        }
      }
      for (; at < events.length; at++) insertOne(events[at]!, rejected);
    });
    this.nextId = this.open() + 1;
  }

  /** Marks the log in use and returns the last id that may have been handed out. */
  private open(): number {
    const c = this.connection;
    return c.transaction(() => {
      const stored = c
        .prepare<[], number>('select coalesce(max(id), 0) from events')
        .pluck()
        .get();
      // Deleted rows (compaction, reset, a deleted session) may have held the highest ids: a trigger keeps the largest.
      let lastId = Math.max(Number(stored ?? 0), Number(this.statements.getState.get('max_id') ?? 0), Number(this.statements.getState.get('max_deleted_id') ?? 0));
      if (this.statements.getState.get('clean_shutdown') === 0) {
        lastId += MAX_UNWRITTEN_EVENTS;
        c.prepare(
          'update sessions set last_event_seq = max(last_event_seq, compacted_through_seq, coalesce((select max(seq) from events where session_id = sessions.id), 0)) + ?',
        ).run(MAX_UNWRITTEN_EVENTS);
      }
      this.statements.setState.run('max_id', lastId);
      this.statements.setState.run('clean_shutdown', 0);
      return lastId;
    })();
  }

  allocate(sessionId: string): EventCursors | null {
    let last = this.lastSeq.get(sessionId);
    if (last === undefined) {
      const stored = this.statements.sessionSeq.get(sessionId, sessionId);
      if (stored === undefined) return null;
      last = Number(stored);
    }
    this.lastSeq.set(sessionId, last + 1);
    return { id: this.nextId++, seq: last + 1 };
  }

  /** Counters are read synchronously by `allocate`. */
  async load(): Promise<void> {}

  write(events: StoredEvent[]): WriteResult {
    if (this.connection.inTransaction) return { busy: true };
    const rejected = new Set<number>();
    try {
      this.writeBatch.immediate(events, rejected);
    } catch (error) {
      if (isBusy(error)) return { busy: true };
      throw error;
    }
    if (this.lastSeq.size > MAX_CACHED_SESSIONS) {
      // The batch is committed whatever happens here; a failure only keeps the cache a while longer.
      try {
        this.saveCounters();
      } catch {}
    }
    return { busy: false, rejected };
  }

  async listAfterSeq(sessionId: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    await this.outsideTransactions();
    return this.statements.afterSeq.all(sessionId, afterSeq, limit).map(toEvent);
  }

  async listForUserAfterId(userId: string, afterId: number, limit: number): Promise<StoredEvent[]> {
    await this.outsideTransactions();
    return this.statements.forUserAfterId.all(afterId, userId, limit).map(toEvent);
  }

  async headSeq(sessionId: string): Promise<number> {
    await this.outsideTransactions();
    return this.lastSeq.get(sessionId) ?? Number(this.statements.sessionSeq.get(sessionId, sessionId) ?? 0);
  }

  async headId(): Promise<number> {
    return this.nextId - 1;
  }

  close(): void {
    if (!this.connection.open) return;
    this.saveCounters();
    this.statements.setState.run('clean_shutdown', 1);
  }

  /**
   * Saves every cursor handed out (also those of events that were published but could not be
   * written), so the next process continues above them, then forgets the cached counters.
   */
  private saveCounters(): void {
    this.connection.transaction(() => {
      for (const [sessionId, seq] of this.lastSeq) this.statements.raiseSessionSeq.run(seq, sessionId, seq);
      this.statements.setState.run('max_id', this.nextId - 1);
    })();
    this.lastSeq.clear();
  }

  /** Another transaction's uncommitted rows (a compaction that may roll back) are not the log. */
  private async outsideTransactions(): Promise<void> {
    while (this.connection.inTransaction) await nextTurn();
  }
}
