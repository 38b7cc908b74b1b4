import type BetterSqlite3 from 'better-sqlite3';
import { MAX_PACK_ID_SPAN, MULTI_EVENT_MARKS_SQL } from '../../events/delta-pack-format.js';
import { collectEvents, rowsPerQuery, sessionPage, type StoredRow, userPage } from '../../events/delta-pack-reads.js';
import { type LogRow, packRows } from '../../events/delta-packs.js';
import { type EventCursors, type LocalEventStore, MAX_UNWRITTEN_EVENTS, type WriteResult } from '../../events/event-store.js';
import type { StoredEvent } from '../../events/types.js';

/** Sessions whose last cursor is kept in memory; past this the counters are saved and the cache emptied. */
const MAX_CACHED_SESSIONS = 10_000;
/** Rows per INSERT statement: one call into the driver for many rows instead of one per row. */
const ROWS_PER_INSERT = 32;

const COLUMNS = 'id, session_id, seq, run_id, type, data, created_at';
const USER_SESSIONS = 'select sessions.id from sessions join workspace_members on workspace_members.workspace_id = sessions.workspace_id where workspace_members.user_id = ?';
export const isBusy = (error: unknown) => String((error as { code?: unknown }).code ?? '').startsWith('SQLITE_BUSY');
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
 * then moved that far past what is stored, durably, before anything is appended (ids also by
 * MAX_PACK_ID_SPAN: a row's id is its pack's first, see delta-packs.ts).
 */
export class SqliteEventStore implements LocalEventStore {
  readonly kind = 'local';
  /** ~15 µs an event: a write stalls every stream for at most ~10 ms. */
  readonly maxEventsPerWrite = 640;
  private nextId: number;
  private readonly lastSeq = new Map<string, number>();
  private readonly statements;
  private readonly writeBatch: BetterSqlite3.Transaction<(rows: LogRow[], rejected: Set<number>) => void>;

  /** `writerLock`: the one-writer lock (writer-lock.ts), released by `close`. */
  constructor(
    private readonly connection: BetterSqlite3.Database,
    private readonly writerLock?: { release(): void },
  ) {
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
      afterSeq: c.prepare<[string, number, number], StoredRow>(`select ${COLUMNS} from events where session_id = ? and seq > ? order by seq limit ?`).raw(),
      forUserAfterId: c
        // `+session_id`: walk the ids in order and filter, never the per-session index plus a sort of every later row.
        .prepare<[number, string, number], StoredRow>(`select ${COLUMNS} from events where id > ? and +session_id in (${USER_SESSIONS}) order by id limit ?`)
        .raw(),
      packsForUserBefore: c
        .prepare<[number, number, string], StoredRow>(
          `select ${COLUMNS} from events where id > ? and id <= ? and substr(data, 1, 1) in ${MULTI_EVENT_MARKS_SQL} and +session_id in (${USER_SESSIONS}) order by id`,
        )
        .raw(),
      getState: c.prepare<[string], number>('select value from event_log_state where name = ?').pluck(),
      setState: c.prepare<[string, number]>(
        'insert into event_log_state (name, value) values (?, ?) on conflict (name) do update set value = excluded.value',
      ),
    };
    const insertOne = (row: LogRow, rejected: Set<number>) => {
      try {
        this.statements.insert.run(row.id, row.sessionId, row.seq, row.runId, row.type, row.data, row.createdAt);
      } catch (error) {
        // The session was deleted after the event was appended.
        if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_FOREIGNKEY') throw error;
        for (const id of row.eventIds) rejected.add(id);
      }
    };
    const values: unknown[] = new Array(ROWS_PER_INSERT * 7);
    this.writeBatch = c.transaction((rows: LogRow[], rejected: Set<number>) => {
      let at = 0;
      for (; at + ROWS_PER_INSERT <= rows.length; at += ROWS_PER_INSERT) {
        for (let index = 0; index < ROWS_PER_INSERT; index++) {
          const row = rows[at + index]!;
          const base = index * 7;
          values[base] = row.id;
          values[base + 1] = row.sessionId;
          values[base + 2] = row.seq;
          values[base + 3] = row.runId;
          values[base + 4] = row.type;
          values[base + 5] = row.data;
          values[base + 6] = row.createdAt;
        }
        try {
          this.statements.insertMany.run(values);
        } catch (error) {
          if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_FOREIGNKEY') throw error;
          // The failed statement left nothing behind; row by row tells which rows lost their session.
          for (let index = 0; index < ROWS_PER_INSERT; index++) insertOne(rows[at + index]!, rejected);
        }
      }
      for (; at < rows.length; at++) insertOne(rows[at]!, rejected);
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
        lastId += MAX_UNWRITTEN_EVENTS + MAX_PACK_ID_SPAN;
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

  created(sessionId: string): void {
    if (!this.lastSeq.has(sessionId)) this.lastSeq.set(sessionId, 0);
  }

  write(events: StoredEvent[]): WriteResult {
    if (this.connection.inTransaction) return { busy: true };
    const rejected = new Set<number>();
    try {
      this.writeBatch.immediate(packRows(events), rejected);
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
    const rowLimit = rowsPerQuery(limit);
    return collectEvents(afterSeq, limit, (event) => event.seq, async (after) =>
      sessionPage(this.statements.afterSeq.all(sessionId, after, rowLimit), after, rowLimit),
    );
  }

  async listForUserAfterId(userId: string, afterId: number, limit: number): Promise<StoredEvent[]> {
    await this.outsideTransactions();
    const rowLimit = rowsPerQuery(limit);
    return collectEvents(afterId, limit, (event) => event.id, async (after) => {
      const rows = this.statements.forUserAfterId.all(after, userId, rowLimit);
      const packsBefore = after > 0 ? this.statements.packsForUserBefore.all(after - MAX_PACK_ID_SPAN, after, userId) : [];
      return userPage(rows, packsBefore, after, rowLimit);
    });
  }

  async headSeq(sessionId: string): Promise<number> {
    await this.outsideTransactions();
    return this.lastSeq.get(sessionId) ?? Number(this.statements.sessionSeq.get(sessionId, sessionId) ?? 0);
  }

  async headId(): Promise<number> {
    return this.nextId - 1;
  }

  close(): void {
    try {
      if (!this.connection.open) return;
      this.saveCounters();
      this.statements.setState.run('clean_shutdown', 1);
    } finally {
      this.writerLock?.release();
    }
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
