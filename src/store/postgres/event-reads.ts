import type pg from 'pg';
import { MAX_PACK_ID_SPAN, MULTI_EVENT_MARKS_SQL } from '../../events/delta-pack-format.js';
import { collectEvents, rowsPerQuery, sessionPage, type StoredRow, userPage } from '../../events/delta-pack-reads.js';
import type { StoredEvent } from '../../events/types.js';

const COLUMNS = 'id, session_id, seq, run_id, type, data, created_at';
// The user's sessions as one array first: the plan walks the ids in order and filters, whatever a
// generic plan guesses about `id > $1`, instead of reading every later row of each session and sorting.
const USER_SESSIONS = 'session_id = any(array(select sessions.id from sessions join workspace_members on workspace_members.workspace_id = sessions.workspace_id where workspace_members.user_id = $2))';

/** Reading the event log on PostgreSQL, the same whichever process writes it (packed rows: src/events/delta-packs.ts). */
export class PostgresEventReads {
  constructor(protected readonly pool: pg.Pool) {}

  async listAfterSeq(sessionId: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    const rowLimit = rowsPerQuery(limit);
    return collectEvents(afterSeq, limit, (event) => event.seq, async (after) => {
      const rows = await this.rows('td_events_after_seq', `select ${COLUMNS} from events where session_id = $1 and seq > $2 order by seq limit $3`, [sessionId, after, rowLimit]);
      return sessionPage(rows, after, rowLimit);
    });
  }

  async listForUserAfterId(userId: string, afterId: number, limit: number): Promise<StoredEvent[]> {
    const rowLimit = rowsPerQuery(limit);
    return collectEvents(afterId, limit, (event) => event.id, async (after) => {
      const [rows, packsBefore] = await Promise.all([
        this.rows('td_events_for_user_after_id', `select ${COLUMNS} from events where id > $1 and ${USER_SESSIONS} order by id limit $3`, [after, userId, rowLimit]),
        after > 0
          ? this.rows('td_event_packs_for_user_before', `select ${COLUMNS} from events where id > $1 and id <= $3 and left(data, 1) in ${MULTI_EVENT_MARKS_SQL} and ${USER_SESSIONS} order by id`, [
              after - MAX_PACK_ID_SPAN,
              userId,
              after,
            ])
          : [],
      ]);
      return userPage(rows, packsBefore, after, rowLimit);
    });
  }

  private async rows(name: string, text: string, values: unknown[]): Promise<StoredRow[]> {
    const { rows } = await this.pool.query({ name, text, values, rowMode: 'array' });
    return rows as unknown as StoredRow[];
  }
}
