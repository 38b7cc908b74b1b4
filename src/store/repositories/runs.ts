import type { Kysely, Updateable } from 'kysely';
import type { Dialect } from '../database.js';
import { PreparedQueries } from '../prepared.js';
import { insertMessage, type NewMessage } from './messages.js';
import { settledSession, settleSession, settlement } from './sessions.js';
import type { Database, RunRow, RunsTable } from '../schema.js';

/** Run states; `queued` waits behind another run of the same session. */
export const ACTIVE_RUN_STATES = ['queued', 'running', 'waiting_approval'] as const;
export const LIVE_RUN_STATES = ['running', 'waiting_approval'] as const;

export class RunsRepository {
  /** What every run makes on its way: compiled once (prepared.ts). */
  private readonly prepared: PreparedQueries<Database>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {
    this.prepared = new PreparedQueries(db);
  }

  async create(run: RunRow): Promise<void> {
    await this.prepared.execute('runs.create', run, (db, row) => db.insertInto('runs').values(row));
  }

  findById(id: string): Promise<RunRow | undefined> {
    return this.prepared.first('runs.findById', { id }, (db, v) => db.selectFrom('runs').selectAll().where('id', '=', v.id));
  }

  /** The run currently executing or paused on a session (not the queued ones). */
  findLive(sessionId: string): Promise<RunRow | undefined> {
    return this.prepared.first('runs.findLive', { sessionId }, (db, v) =>
      db
        .selectFrom('runs')
        .selectAll()
        .where('session_id', '=', v.sessionId)
        .where('state', 'in', [...LIVE_RUN_STATES])
        .orderBy('created_at', 'asc')
        .limit(1),
    );
  }

  /** Whether the session has a run that is live or queued: what a new run must wait behind. */
  hasLiveOrQueued(sessionId: string): Promise<boolean> {
    return this.hasRunIn(sessionId, [...LIVE_RUN_STATES, 'queued']);
  }

  private async hasRunIn(sessionId: string, states: string[]): Promise<boolean> {
    const row = await this.prepared.first(`runs.hasRunIn:${states.join('|')}`, { sessionId }, (db, v) =>
      db.selectFrom('runs').select('id').where('session_id', '=', v.sessionId).where('state', 'in', states).limit(1),
    );
    return row !== undefined;
  }

  /** The session's live and queued runs, oldest first: one read tells whether one runs and which waits next. */
  listActive(sessionId: string): Promise<RunRow[]> {
    return this.prepared.rows('runs.listActive', { sessionId }, (db, v) =>
      db.selectFrom('runs').selectAll().where('session_id', '=', v.sessionId).where('state', 'in', [...ACTIVE_RUN_STATES]).orderBy('created_at', 'asc').orderBy('id', 'asc'),
    );
  }

  listQueued(sessionId: string): Promise<RunRow[]> {
    return this.prepared.rows('runs.listQueued', { sessionId }, (db, v) =>
      db.selectFrom('runs').selectAll().where('session_id', '=', v.sessionId).where('state', '=', 'queued').orderBy('created_at', 'asc').orderBy('id', 'asc'),
    );
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
    await this.prepared.execute('runs.update', { ...changes, id }, (db, { id: runId, ...set }) => db.updateTable('runs').set(set).where('id', '=', runId));
  }

  /**
   * Moves a run from one state to another only if it is still in `from`: the guard that keeps
   * two processes (or a stop racing a finish) from both acting on it.
   */
  async transition(id: string, from: readonly string[], changes: Updateable<RunsTable>): Promise<boolean> {
    const changed = await this.prepared.changed(`runs.transition:${from.join('|')}`, { ...changes, id }, (db, { id: runId, ...set }) =>
      db
        .updateTable('runs')
        .set(set)
        .where('id', '=', runId)
        .where('state', 'in', [...from]),
    );
    return changed === 1;
  }

  /** A model turn ends: its message saved and the run's count and usage with it (on PostgreSQL in one statement). */
  async saveTurn(id: string, message: NewMessage, progress: Pick<Updateable<RunsTable>, 'iterations' | 'input_tokens' | 'output_tokens'>): Promise<void> {
    if (this.dialect === 'sqlite') {
      await this.prepared.execute('messages.appendOne', message, insertMessage);
      await this.update(id, progress);
      return;
    }
    await this.prepared.execute('runs.saveTurn', { ...message, ...progress, runId: id }, (db, { runId, iterations, input_tokens, output_tokens, ...row }) =>
      db
        .with('message', (query) => insertMessage(query, row).returning('id'))
        .updateTable('runs')
        .set({ iterations, input_tokens, output_tokens })
        .where('id', '=', runId),
    );
  }

  /**
   * Ends a run still in one of `from` and settles its session (usage, status: see settledSession);
   * false when another ending won. On PostgreSQL in one statement.
   */
  async finish(
    id: string,
    from: readonly string[],
    changes: Updateable<RunsTable>,
    settle: { sessionId: string; usage: { inputTokens: number; outputTokens: number }; outcome: 'completed' | 'error'; at: string },
  ): Promise<boolean> {
    const outcome = settlement(settle.sessionId, settle.usage, settle.outcome, settle.at);
    if (this.dialect === 'sqlite') {
      if (!(await this.transition(id, from, changes))) return false;
      await this.prepared.execute('sessions.settle', outcome, settleSession);
      return true;
    }
    const changed = await this.prepared.changed(`runs.finish:${from.join('|')}`, { ...changes, ...outcome, runId: id }, (db, { runId, sessionId, input, output, outcome: result, at, ...set }) =>
      db
        .with('finished', (query) => query.updateTable('runs').set(set).where('id', '=', runId).where('state', 'in', [...from]).returning('id'))
        .updateTable('sessions')
        .set((eb) => settledSession(eb, { input, output, outcome: result, at }))
        .where('id', '=', sessionId)
        .where((eb) => eb.exists(eb.selectFrom('finished').select('finished.id'))),
    );
    return changed === 1;
  }
}
