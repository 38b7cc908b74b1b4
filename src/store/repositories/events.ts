import { type Kysely, sql } from 'kysely';
import type { Database } from '../schema.js';

/**
 * Maintenance of the event log (compaction). Appends and reads are the event store's
 * (src/store/sqlite/event-store.ts, src/store/postgres/event-store.ts), on the driver directly.
 */
export class EventsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Deletes the given event types of runs that finished before `finishedBefore` and records, per
   * session, the highest cursor that may now be missing. One transaction per session: it locks
   * that session's row only, so it can never deadlock with an append that locks several.
   */
  async compact(types: string[], finishedBefore: string): Promise<number> {
    const victims = await this.db
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
      deleted += await this.db.transaction().execute(async (trx) => {
        const result = await trx
          .deleteFrom('events')
          .where('session_id', '=', victim.session_id)
          .where('seq', '<=', maxSeq)
          .where('type', 'in', types)
          .where('run_id', 'in', (eb) =>
            eb.selectFrom('runs').select('runs.id').where('runs.finished_at', 'is not', null).where('runs.finished_at', '<', finishedBefore),
          )
          .executeTakeFirst();
        await trx
          .updateTable('sessions')
          .set((eb) => ({
            compacted_through_seq: sql<number>`case when ${eb.ref('compacted_through_seq')} > ${maxSeq} then ${eb.ref('compacted_through_seq')} else ${maxSeq} end`,
          }))
          .where('id', '=', victim.session_id)
          .execute();
        return Number(result.numDeletedRows);
      });
    }
    return deleted;
  }
}
