import pg from 'pg';
import { type EventCursors, type LocalEventStore, MAX_UNWRITTEN_EVENTS, type WriteResult } from '../../events/event-store.js';
import { type LogRow, packRows } from '../../events/delta-packs.js';
import type { StoredEvent } from '../../events/types.js';
import { PostgresEventReads } from './event-reads.js';

/** Arbitrary constant naming the session-level advisory lock held by the one process writing the log. */
const WRITER_LOCK = 7_261_002;
/** Sessions whose last cursor is kept in memory; past this the counters are saved and the cache emptied. */
const MAX_CACHED_SESSIONS = 10_000;
/** How long start-up waits for the writer lock: a killed predecessor's connection takes a moment to close. */
const DEFAULT_LOCK_WAIT_MS = 5_000;

/** What `open` does once the writer lock is held: continue above every id and cursor that may have been seen. */
const OPEN = `
with state as (
  select coalesce((select value from event_log_state where name = 'clean_shutdown'), 1) as clean,
         greatest(
           coalesce((select max(id) from events), 0),
           coalesce((select value from event_log_state where name = 'max_id'), 0),
           (select case when is_called then last_value else 0 end from events_id_seq)
         ) as last_id
), skipped as (
  update sessions set last_event_seq = greatest(last_event_seq, compacted_through_seq,
      coalesce((select max(seq) from events where events.session_id = sessions.id), 0)) + $1
  where (select clean from state) = 0
)
select case when clean = 0 then last_id + $1 else last_id end as last_id from state`;

const SESSION_SEQ = `
select greatest(last_event_seq, compacted_through_seq, coalesce((select max(seq) from events where session_id = $1), 0)) as seq
from sessions where id = $1`;

/**
 * One statement per batch: rows whose session is gone are left out (their ids are the answer), and `max_id`
 * follows the ids written, so deleting the newest rows never lets an id be handed out again. Each
 * column travels as one text, its values joined by FIELD_SEPARATOR and split by string_to_array:
 * joining costs next to nothing here, and splitting is a byte search for the backend. (The driver's
 * escaping of text arrays went element by element; a JSON array cost the backend a parse that
 * unescapes every quote of every delta, a third of what the writing connection spent.)
 */
const WRITE = `
with input as (
  select * from unnest(
    string_to_array($1, ',')::bigint[], string_to_array($2, chr(31)), string_to_array($3, ',')::bigint[],
    string_to_array($4, chr(31), ''), string_to_array($5, chr(31)), string_to_array($6, chr(31)), string_to_array($7, chr(31))
  ) as r(id, session_id, seq, run_id, type, data, created_at)
), inserted as (
  insert into events (id, session_id, seq, run_id, type, data, created_at)
  select input.* from input where exists (select 1 from sessions where sessions.id = input.session_id)
  returning id
), high as (
  insert into event_log_state (name, value) values ('max_id', $8)
  on conflict (name) do update set value = greatest(event_log_state.value, excluded.value)
)
select input.id from input where not exists (select 1 from inserted where inserted.id = input.id)`;

/**
 * chr(31), the unit separator. No column's text holds it: `data` is JSON text (JSON.stringify
 * escapes every control character) or a pack of such lines joined by newlines, and the other
 * columns are ids, type names and ISO times the server makes. An empty run_id stands for null.
 */
const FIELD_SEPARATOR = '\x1f';

/** The WRITE parameters for `rows`: seven joined columns, then the highest id. */
function writeParameters(rows: LogRow[], highest: number): Array<string | number> {
  const columns: string[][] = [[], [], [], [], [], [], []];
  for (const row of rows) {
    if (row.data.includes(FIELD_SEPARATOR) || row.sessionId.includes(FIELD_SEPARATOR) || row.runId === '' || row.runId?.includes(FIELD_SEPARATOR)) {
      throw new Error(`event row ${row.id} holds a character the event log's writer cannot send`);
    }
    columns[0]!.push(String(row.id));
    columns[1]!.push(row.sessionId);
    columns[2]!.push(String(row.seq));
    columns[3]!.push(row.runId ?? '');
    columns[4]!.push(row.type);
    columns[5]!.push(row.data);
    columns[6]!.push(row.createdAt);
  }
  return [columns[0]!.join(','), columns[1]!.join(FIELD_SEPARATOR), columns[2]!.join(','), ...columns.slice(3).map((column) => column.join(FIELD_SEPARATOR)), highest];
}

const SAVE_COUNTERS = `
update sessions set last_event_seq = greatest(last_event_seq, counters.seq)
from unnest($1::text[], $2::bigint[]) as counters(id, seq)
where sessions.id = counters.id`;

const SET_STATE = `
insert into event_log_state (name, value) values ($1, $2)
on conflict (name) do update set value = excluded.value`;

/**
 * The event log on PostgreSQL when one process writes it (no scale-out): numbered in memory and
 * written behind like SQLite's (src/store/sqlite/event-store.ts), with the same crash rule. A
 * session-level advisory lock, held on a connection of its own for the process's life, makes a
 * second writing process fail at start instead of handing out the same cursors.
 */
export class PostgresSingleWriterEventStore extends PostgresEventReads implements LocalEventStore {
  readonly kind = 'local';
  private readonly lastSeq = new Map<string, number>();
  /** Sessions `load` found missing; `allocate` answers null for them once. */
  private readonly missing = new Set<string>();
  private saving: Promise<void> | null = null;

  /**
   * The log's writes on a connection of their own: on the shared pool a batch queued behind the
   * runs' bookkeeping at 100 streams, held back deltas past MAX_UNWRITTEN_EVENTS and the durable
   * events a run waits for. A pool of one reconnects by itself.
   */
  private readonly writer: pg.Pool;

  private constructor(
    pool: pg.Pool,
    private readonly lockHolder: pg.Client,
    private nextId: number,
  ) {
    super(pool);
    this.writer = new pg.Pool({ ...pool.options, max: 1, idleTimeoutMillis: 0 });
    this.writer.on('error', () => {});
  }

  static async open(pool: pg.Pool, options: { lockWaitMs?: number } = {}): Promise<PostgresSingleWriterEventStore> {
    const lockHolder = new pg.Client(pool.options);
    lockHolder.on('error', () => {});
    await lockHolder.connect();
    try {
      const deadline = Date.now() + (options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS);
      for (;;) {
        const { rows } = await lockHolder.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [WRITER_LOCK]);
        if (rows[0]?.locked) break;
        if (Date.now() > deadline) {
          throw new Error(
            'another TokenDance process is writing this PostgreSQL database: stop it first, or run several processes in scale-out mode (database + redis.url, SPEC §11)',
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      await lockHolder.query('begin');
      const { rows } = await lockHolder.query<{ last_id: number }>(OPEN, [MAX_UNWRITTEN_EVENTS]);
      const lastId = Number(rows[0]?.last_id ?? 0);
      await lockHolder.query(SET_STATE, ['max_id', lastId]);
      await lockHolder.query(SET_STATE, ['clean_shutdown', 0]);
      // A scale-out process started later on this database draws ids above these.
      if (lastId > 0) await lockHolder.query(`select setval('events_id_seq', $1)`, [lastId]);
      await lockHolder.query('commit');
      return new PostgresSingleWriterEventStore(pool, lockHolder, lastId + 1);
    } catch (error) {
      await lockHolder.end().catch(() => {});
      throw error;
    }
  }

  allocate(sessionId: string): EventCursors | null | undefined {
    const last = this.lastSeq.get(sessionId);
    if (last === undefined) {
      if (!this.missing.delete(sessionId)) return undefined;
      return null;
    }
    this.lastSeq.set(sessionId, last + 1);
    return { id: this.nextId++, seq: last + 1 };
  }

  created(sessionId: string): void {
    this.missing.delete(sessionId);
    if (!this.lastSeq.has(sessionId)) this.lastSeq.set(sessionId, 0);
  }

  async load(sessionId: string): Promise<void> {
    const { rows } = await this.pool.query<{ seq: number }>({ name: 'td_events_session_seq', text: SESSION_SEQ, values: [sessionId] });
    if (this.lastSeq.has(sessionId)) return;
    if (rows[0]) this.lastSeq.set(sessionId, Number(rows[0].seq));
    else this.missing.add(sessionId);
  }

  async write(events: StoredEvent[]): Promise<WriteResult> {
    let highest = 0;
    for (const event of events) if (event.id > highest) highest = event.id;
    const rows = packRows(events);
    const query = { name: 'td_events_write', text: WRITE, values: writeParameters(rows, highest) };
    // Only the rows left out come back: at rest, none.
    const { rows: left } = await this.writer.query<{ id: number }>(query);
    const rejected = new Set<number>();
    if (left.length > 0) {
      const rowsById = new Map(rows.map((row) => [row.id, row]));
      for (const { id } of left) for (const eventId of rowsById.get(Number(id))?.eventIds ?? [Number(id)]) rejected.add(eventId);
    }
    if (this.lastSeq.size > MAX_CACHED_SESSIONS) await this.saveCounters(true);
    return { busy: false, rejected };
  }

  async headSeq(sessionId: string): Promise<number> {
    const cached = this.lastSeq.get(sessionId);
    if (cached !== undefined) return cached;
    const { rows } = await this.pool.query<{ seq: number }>({ name: 'td_events_session_seq', text: SESSION_SEQ, values: [sessionId] });
    return Number(rows[0]?.seq ?? 0);
  }

  async headId(): Promise<number> {
    return this.nextId - 1;
  }

  async close(): Promise<void> {
    try {
      await this.saveCounters(false);
      await this.writer.query(SET_STATE, ['max_id', this.nextId - 1]);
      if (this.nextId > 1) await this.writer.query(`select setval('events_id_seq', $1)`, [this.nextId - 1]);
      await this.writer.query(SET_STATE, ['clean_shutdown', 1]);
    } finally {
      await this.writer.end().catch(() => {});
      await this.lockHolder.end().catch(() => {});
    }
  }

  /**
   * Saves every cursor handed out (also those of events published but never written), so the
   * session's counter in the database covers them; with `evict`, forgets the sessions whose
   * counter did not move meanwhile.
   */
  private saveCounters(evict: boolean): Promise<void> {
    this.saving ??= (async () => {
      const saved = [...this.lastSeq];
      try {
        await this.writer.query({ name: 'td_events_save_counters', text: SAVE_COUNTERS, values: [saved.map(([id]) => id), saved.map(([, seq]) => seq)] });
        if (evict) for (const [id, seq] of saved) if (this.lastSeq.get(id) === seq) this.lastSeq.delete(id);
      } finally {
        this.saving = null;
      }
    })();
    return this.saving;
  }
}
