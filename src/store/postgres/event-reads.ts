import type pg from 'pg';
import { type LogEventType, LoggedEvent, type StoredEvent } from '../../events/types.js';
import type { EventRow } from '../schema.js';

const COLUMNS = 'id, session_id, seq, run_id, type, data, created_at';
const toEvent = (row: EventRow): StoredEvent => new LoggedEvent(row.id, row.session_id, row.seq, row.run_id, row.type as LogEventType, row.data, row.created_at);

/** Reading the event log on PostgreSQL, the same whichever process writes it. */
export class PostgresEventReads {
  constructor(protected readonly pool: pg.Pool) {}

  async listAfterSeq(sessionId: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    const { rows } = await this.pool.query<EventRow>({
      name: 'td_events_after_seq',
      text: `select ${COLUMNS} from events where session_id = $1 and seq > $2 order by seq limit $3`,
      values: [sessionId, afterSeq, limit],
    });
    return rows.map(toEvent);
  }

  async listForUserAfterId(userId: string, afterId: number, limit: number): Promise<StoredEvent[]> {
    const { rows } = await this.pool.query<EventRow>({
      name: 'td_events_for_user_after_id',
      text:
        // The user's sessions as one array first: the plan walks the ids in order and filters, whatever a
        // generic plan guesses about `id > $1`, instead of reading every later row of each session and sorting.
        `select ${COLUMNS} from events where id > $1 and session_id = any(array(` +
        'select sessions.id from sessions join workspace_members on workspace_members.workspace_id = sessions.workspace_id where workspace_members.user_id = $2' +
        ')) order by id limit $3',
      values: [afterId, userId, limit],
    });
    return rows.map(toEvent);
  }
}
