import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../database.js';
import type { Database, EventRow } from '../schema.js';

export interface EventDraft {
  session_id: string;
  run_id: string | null;
  type: string;
  data: string;
  created_at: string;
}

/** Arbitrary constant naming the advisory lock that orders global event ids in PostgreSQL. */
const EVENT_ORDER_LOCK = 7_261_001;

export class EventsRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  /**
   * Appends events (any sessions) in one transaction, giving each a per-session `seq` and a
   * global `id`. In PostgreSQL a transaction-scoped advisory lock makes commits happen in id
   * order, so a reader that has seen id N can never later find a smaller id committed late.
   */
  async append(drafts: EventDraft[]): Promise<EventRow[]> {
    if (drafts.length === 0) return [];
    return this.db.transaction().execute(async (trx) => {
      if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${EVENT_ORDER_LOCK})`.execute(trx);
      const perSession = new Map<string, number>();
      for (const draft of drafts) perSession.set(draft.session_id, (perSession.get(draft.session_id) ?? 0) + 1);
      const nextSeq = new Map<string, number>();
      for (const [sessionId, count] of perSession) {
        const row = await trx
          .updateTable('sessions')
          .set((eb) => ({ last_event_seq: eb('last_event_seq', '+', count) }))
          .where('id', '=', sessionId)
          .returning('last_event_seq')
          .executeTakeFirst();
        if (!row) throw new Error(`session ${sessionId} vanished while appending events`);
        nextSeq.set(sessionId, Number(row.last_event_seq) - count + 1);
      }
      const rows = drafts.map((draft) => {
        const seq = nextSeq.get(draft.session_id)!;
        nextSeq.set(draft.session_id, seq + 1);
        return { ...draft, seq };
      });
      const ids = await trx.insertInto('events').values(rows).returning('id').execute();
      return rows.map((row, index) => ({ ...row, id: Number(ids[index]!.id) }));
    });
  }

  listAfterSeq(sessionId: string, afterSeq: number, limit: number): Promise<EventRow[]> {
    return this.db
      .selectFrom('events')
      .selectAll()
      .where('session_id', '=', sessionId)
      .where('seq', '>', afterSeq)
      .orderBy('seq', 'asc')
      .limit(limit)
      .execute();
  }

  /** Events of every session in the user's workspaces after a global id. */
  listForUserAfterId(userId: string, afterId: number, limit: number): Promise<EventRow[]> {
    return this.db
      .selectFrom('events')
      .selectAll('events')
      .where('events.id', '>', afterId)
      .where('events.session_id', 'in', (eb) =>
        eb
          .selectFrom('sessions')
          .innerJoin('workspace_members', 'workspace_members.workspace_id', 'sessions.workspace_id')
          .select('sessions.id')
          .where('workspace_members.user_id', '=', userId),
      )
      .orderBy('events.id', 'asc')
      .limit(limit)
      .execute();
  }

  async maxId(): Promise<number> {
    const row = await this.db.selectFrom('events').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
    return Number(row?.id ?? 0);
  }

  listForRun(runId: string): Promise<EventRow[]> {
    return this.db.selectFrom('events').selectAll().where('run_id', '=', runId).orderBy('id', 'asc').execute();
  }

  /**
   * Deletes the given event types of runs that finished before `finishedBefore` and records, per
   * session, the highest cursor that may now be missing.
   */
  async compact(types: string[], finishedBefore: string): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const victims = await trx
        .selectFrom('events')
        .innerJoin('runs', 'runs.id', 'events.run_id')
        .select(['events.session_id', (eb) => eb.fn.max('events.seq').as('max_seq')])
        .where('events.type', 'in', types)
        .where('runs.finished_at', 'is not', null)
        .where('runs.finished_at', '<', finishedBefore)
        .groupBy('events.session_id')
        .execute();
      let deleted = 0;
      for (const victim of victims) {
        const maxSeq = Number(victim.max_seq);
        const result = await trx
          .deleteFrom('events')
          .where('session_id', '=', victim.session_id)
          .where('seq', '<=', maxSeq)
          .where('type', 'in', types)
          .where('run_id', 'in', (eb) =>
            eb.selectFrom('runs').select('runs.id').where('runs.finished_at', 'is not', null).where('runs.finished_at', '<', finishedBefore),
          )
          .executeTakeFirst();
        deleted += Number(result.numDeletedRows);
        await trx
          .updateTable('sessions')
          .set((eb) => ({
            compacted_through_seq: sql<number>`case when ${eb.ref('compacted_through_seq')} > ${maxSeq} then ${eb.ref('compacted_through_seq')} else ${maxSeq} end`,
          }))
          .where('id', '=', victim.session_id)
          .execute();
      }
      return deleted;
    });
  }
}
