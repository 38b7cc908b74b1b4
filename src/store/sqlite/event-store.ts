import type BetterSqlite3 from 'better-sqlite3';
import { type EventCursors, type LocalEventStore, MAX_UNWRITTEN_EVENTS } from '../../events/event-store.js';
import { type LogEventType, LoggedEvent, type StoredEvent } from '../../events/types.js';

/** Sessions whose last cursor is kept in memory; past this the cache is emptied after a write. */
const MAX_CACHED_SESSIONS = 10_000;

type Row = [id: number, sessionId: string, seq: number, runId: string | null, type: string, data: string, createdAt: string];

const COLUMNS = 'id, session_id, seq, run_id, type, data, created_at';
const toEvent = (row: Row): StoredEvent => new LoggedEvent(row[0], row[1], row[2], row[3], row[4] as LogEventType, row[5], row[6]);

/**
 * The event log on SQLite: one writing process, so cursors are numbered in memory and events are
 * written with prepared statements on the same connection as the rest of the store. A write
 * never interleaves with a Kysely transaction left open across an await: it reports `busy` and
 * the log tries again on the next turn of the event loop.
 *
 * Crash safety of cursors: `event_log_state.clean_shutdown` is 0 while a process runs. Finding
 * it 0 at start means the last process died with up to MAX_UNWRITTEN_EVENTS published but
 * unwritten events; every counter then starts that far past what is stored.
 */
export class SqliteEventStore implements LocalEventStore {
  readonly kind = 'local';
  private nextId: number;
  private readonly lastSeq = new Map<string, number>();
  private readonly skip: number;
  private readonly statements;
  private readonly writeBatch: BetterSqlite3.Transaction<(events: StoredEvent[], rejected: Set<number>) => void>;

  constructor(private readonly connection: BetterSqlite3.Database) {
    const c = connection;
    this.statements = {
      // The session row's counter is written at clean shutdown only; between, the log's own index knows the last seq.
      sessionSeq: c
        .prepare<[string, string], number>(
          'select max(sessions.last_event_seq, coalesce((select max(seq) from events where session_id = ?), 0)) from sessions where id = ?',
        )
        .pluck(),
      insert: c.prepare(`insert into events (${COLUMNS}) values (?, ?, ?, ?, ?, ?, ?)`),
      raiseSessionSeq: c.prepare<[number, string, number]>('update sessions set last_event_seq = ? where id = ? and last_event_seq < ?'),
      afterSeq: c.prepare<[string, number, number], Row>(`select ${COLUMNS} from events where session_id = ? and seq > ? order by seq limit ?`).raw(),
      forUserAfterId: c
        .prepare<[number, string, number], Row>(
          `select ${COLUMNS} from events where id > ? and session_id in (` +
            'select sessions.id from sessions join workspace_members on workspace_members.workspace_id = sessions.workspace_id where workspace_members.user_id = ?' +
            ') order by id limit ?',
        )
        .raw(),
      setClean: c.prepare<[number]>(
        "insert into event_log_state (name, value) values ('clean_shutdown', ?) on conflict (name) do update set value = excluded.value",
      ),
    };
    const clean = c.prepare<[], number>("select value from event_log_state where name = 'clean_shutdown'").pluck().get();
    this.skip = clean === 0 ? MAX_UNWRITTEN_EVENTS : 0;
    const highest = c
      .prepare<[], number>("select max(coalesce((select seq from sqlite_sequence where name = 'events'), 0), coalesce((select max(id) from events), 0))")
      .pluck()
      .get();
    this.nextId = Number(highest ?? 0) + 1 + this.skip;
    this.statements.setClean.run(0);
    this.writeBatch = c.transaction((events: StoredEvent[], rejected: Set<number>) => {
      for (const event of events) {
        try {
          this.statements.insert.run(event.id, event.sessionId, event.seq, event.runId, event.type, event.json, event.createdAt);
        } catch (error) {
          if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_FOREIGNKEY') throw error;
          rejected.add(event.id);
        }
      }
    });
  }

  allocate(sessionId: string): EventCursors | null {
    let last = this.lastSeq.get(sessionId);
    if (last === undefined) {
      const stored = this.statements.sessionSeq.get(sessionId, sessionId);
      if (stored === undefined) return null;
      last = Number(stored) + this.skip;
    }
    this.lastSeq.set(sessionId, last + 1);
    return { id: this.nextId++, seq: last + 1 };
  }

  write(events: StoredEvent[]): { busy: true } | { busy: false; rejected: Set<number> } {
    if (this.connection.inTransaction) return { busy: true };
    const rejected = new Set<number>();
    try {
      this.writeBatch.immediate(events, rejected);
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_BUSY') return { busy: true };
      throw error;
    }
    // Every cursor handed out is now stored, so a session dropped from the cache reads back right.
    if (this.lastSeq.size > MAX_CACHED_SESSIONS) this.recordSessionCounters();
    return { busy: false, rejected };
  }

  async listAfterSeq(sessionId: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    return this.statements.afterSeq.all(sessionId, afterSeq, limit).map(toEvent);
  }

  async listForUserAfterId(userId: string, afterId: number, limit: number): Promise<StoredEvent[]> {
    return this.statements.forUserAfterId.all(afterId, userId, limit).map(toEvent);
  }

  async headSeq(sessionId: string): Promise<number> {
    return this.lastSeq.get(sessionId) ?? Number(this.statements.sessionSeq.get(sessionId, sessionId) ?? 0);
  }

  async headId(): Promise<number> {
    return this.nextId - 1;
  }

  close(): void {
    if (!this.connection.open) return;
    this.recordSessionCounters();
    this.statements.setClean.run(1);
  }

  /** Keeps `sessions.last_event_seq` meaningful for other readers, then forgets the cached counters. */
  private recordSessionCounters(): void {
    this.connection.transaction(() => {
      for (const [sessionId, seq] of this.lastSeq) this.statements.raiseSessionSeq.run(seq, sessionId, seq);
    })();
    this.lastSeq.clear();
  }
}
