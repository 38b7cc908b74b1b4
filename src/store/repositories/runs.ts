import type { Kysely, Updateable } from 'kysely';
import type { Database, RunRow, RunsTable } from '../schema.js';

/** Run states; `queued` waits behind another run of the same session. */
export const ACTIVE_RUN_STATES = ['queued', 'running', 'waiting_approval'] as const;
export const LIVE_RUN_STATES = ['running', 'waiting_approval'] as const;

export class RunsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async create(run: RunRow): Promise<void> {
    await this.db.insertInto('runs').values(run).execute();
  }

  findById(id: string): Promise<RunRow | undefined> {
    return this.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The run currently executing or paused on a session (not the queued ones). */
  findLive(sessionId: string): Promise<RunRow | undefined> {
    return this.db
      .selectFrom('runs')
      .selectAll()
      .where('session_id', '=', sessionId)
      .where('state', 'in', [...LIVE_RUN_STATES])
      .orderBy('created_at', 'asc')
      .executeTakeFirst();
  }

  /** Whether the session has a run that is live or queued: what a new run must wait behind. */
  hasLiveOrQueued(sessionId: string): Promise<boolean> {
    return this.hasRunIn(sessionId, [...LIVE_RUN_STATES, 'queued']);
  }

  private async hasRunIn(sessionId: string, states: string[]): Promise<boolean> {
    const row = await this.db.selectFrom('runs').select('id').where('session_id', '=', sessionId).where('state', 'in', states).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  listQueued(sessionId: string): Promise<RunRow[]> {
    return this.db
      .selectFrom('runs')
      .selectAll()
      .where('session_id', '=', sessionId)
      .where('state', '=', 'queued')
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .execute();
  }

  /** Every run that was live or queued: what a restarted server must pick up. */
  listUnfinished(): Promise<RunRow[]> {
    return this.db
      .selectFrom('runs')
      .selectAll()
      .where('state', 'in', [...ACTIVE_RUN_STATES])
      .orderBy('created_at', 'asc')
      .execute();
  }

  async listForUser(userId: string, kind: string, limit: number, offset: number): Promise<{ items: RunRow[]; total: number }> {
    const base = this.db.selectFrom('runs').where('user_id', '=', userId).where('kind', '=', kind);
    const [items, count] = await Promise.all([
      base.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).offset(offset).execute(),
      base.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirst(),
    ]);
    return { items, total: Number(count?.total ?? 0) };
  }

  async update(id: string, changes: Updateable<RunsTable>): Promise<void> {
    await this.db.updateTable('runs').set(changes).where('id', '=', id).execute();
  }

  /**
   * Moves a run from one state to another only if it is still in `from`: the guard that keeps
   * two processes (or a stop racing a finish) from both acting on it.
   */
  async transition(id: string, from: readonly string[], changes: Updateable<RunsTable>): Promise<boolean> {
    const result = await this.db
      .updateTable('runs')
      .set(changes)
      .where('id', '=', id)
      .where('state', 'in', [...from])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}
