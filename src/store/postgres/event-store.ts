import type { EventCursors, EventDraft, SharedEventStore } from '../../events/event-store.js';
import { PostgresEventReads } from './event-reads.js';

/** Arbitrary constant naming the advisory lock that orders event commits in PostgreSQL. */
const EVENT_ORDER_LOCK = 7_261_001;


/**
 * One statement, one round trip, its own transaction: take the advisory lock (so transactions
 * commit in the order they draw ids: a reader that has seen id N never finds a smaller id
 * committed later, SPEC §11), advance each session's counter once for all its drafts, and
 * insert the drafts in order, numbering ids in that order. Drafts of a deleted session match no
 * counter row and are left out.
 */
const APPEND = `
with input as (
  select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
    with ordinality as t(session_id, run_id, type, data, created_at, ord)
), ordered as (
  select pg_advisory_xact_lock(${EVENT_ORDER_LOCK})
), counts as (
  select session_id, count(*) as n from input group by session_id
), counters as (
  update sessions set last_event_seq = sessions.last_event_seq + counts.n
  from counts, ordered
  where sessions.id = counts.session_id
  returning sessions.id, sessions.last_event_seq - counts.n as base
), numbered as (
  select input.session_id, counters.base + row_number() over (partition by input.session_id order by input.ord) as seq,
         input.run_id, input.type, input.data, input.created_at, input.ord
  from input join counters on counters.id = input.session_id
  order by input.ord
)
insert into events (id, session_id, seq, run_id, type, data, created_at)
select nextval('events_id_seq'), session_id, seq, run_id, type, data, created_at from numbered
returning id, session_id, seq`;

/** APPEND for a single draft, the common case at rest (one token of one stream): far less planning and work. */
const APPEND_ONE = `
with ordered as (
  select pg_advisory_xact_lock(${EVENT_ORDER_LOCK})
), counter as (
  update sessions set last_event_seq = last_event_seq + 1 from ordered where id = $1 returning last_event_seq
)
insert into events (id, session_id, seq, run_id, type, data, created_at)
select nextval('events_id_seq'), $1, last_event_seq, $2, $3, $4, $5 from counter
returning id, seq`;

/**
 * The event log on PostgreSQL for several writing processes (scale-out, SPEC §11): prepared
 * statements on the pool, one round trip per batch, cursors drawn by the database at commit.
 */
export class PostgresEventStore extends PostgresEventReads implements SharedEventStore {
  readonly kind = 'shared';

  async append(drafts: EventDraft[]): Promise<Array<EventCursors | null>> {
    if (drafts.length === 1) {
      const draft = drafts[0]!;
      const { rows } = await this.pool.query<EventCursors>({
        name: 'td_events_append_one',
        text: APPEND_ONE,
        values: [draft.sessionId, draft.runId, draft.type, draft.json, draft.createdAt],
      });
      return [rows[0] ? { id: Number(rows[0].id), seq: Number(rows[0].seq) } : null];
    }
    const columns: [string[], Array<string | null>, string[], string[], string[]] = [[], [], [], [], []];
    for (const draft of drafts) {
      columns[0].push(draft.sessionId);
      columns[1].push(draft.runId);
      columns[2].push(draft.type);
      columns[3].push(draft.json);
      columns[4].push(draft.createdAt);
    }
    const { rows } = await this.pool.query<{ id: number; session_id: string; seq: number }>({ name: 'td_events_append', text: APPEND, values: columns });
    // Within a session, drafts got consecutive seqs in their order: hand them out in seq order.
    const bySession = new Map<string, Array<{ id: number; seq: number }>>();
    for (const row of rows) {
      let list = bySession.get(row.session_id);
      if (!list) bySession.set(row.session_id, (list = []));
      list.push({ id: Number(row.id), seq: Number(row.seq) });
    }
    for (const list of bySession.values()) list.sort((a, b) => a.seq - b.seq);
    const taken = new Map<string, number>();
    return drafts.map((draft) => {
      const list = bySession.get(draft.sessionId);
      if (!list) return null;
      const index = taken.get(draft.sessionId) ?? 0;
      taken.set(draft.sessionId, index + 1);
      return list[index] ?? null;
    });
  }

  async headSeq(sessionId: string): Promise<number> {
    const { rows } = await this.pool.query<{ last_event_seq: number }>({
      name: 'td_events_head_seq',
      text: 'select last_event_seq from sessions where id = $1',
      values: [sessionId],
    });
    return Number(rows[0]?.last_event_seq ?? 0);
  }

  async headId(): Promise<number> {
    const { rows } = await this.pool.query<{ id: number | null }>({ name: 'td_events_head_id', text: 'select max(id) as id from events' });
    return Number(rows[0]?.id ?? 0);
  }

  close(): void {}
}
