import { type Kysely, type Updateable } from 'kysely';
import type { Dialect } from '../database.js';
import { type FinishRequest, PostgresRunBatches } from '../postgres/run-batches.js';
import { PreparedQueries } from '../prepared.js';
import { insertMessage, type NewMessage, selectConversation } from './messages.js';
import { ACTIVE_RUN_STATES, LIVE_RUN_STATES } from './run-states.js';
import { markSessionRunning, selectSessionWithRole, type SessionWithRole, settleSession, settlement, withRole } from './sessions.js';
import type { Database, MessageRow, RunRow, RunsTable } from '../schema.js';

/** What a start found: the session and the user's role there (undefined: no such session), and the conversation if the run started (null: it did not). */
export interface StartAttempt {
  access: SessionWithRole | undefined;
  history: MessageRow[] | null;
}

/** What a run that completes is finished with; its answer is its final message. */
export type Completion = Pick<RunRow, 'iterations' | 'input_tokens' | 'output_tokens' | 'finished_at'>;

export class RunsRepository {
  /** What every run makes on its way: compiled once (prepared.ts). */
  private readonly prepared: PreparedQueries<Database>;
  /** PostgreSQL's starts and completions, each batched with those of the same moment. */
  private readonly batches: PostgresRunBatches;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {
    this.prepared = new PreparedQueries(db);
    this.batches = new PostgresRunBatches(db);
  }

  async create(run: RunRow): Promise<void> {
    await this.prepared.execute('runs.create', run, (db, row) => db.insertInto('runs').values(row));
  }

  /**
   * Creates a running run if its user may use its session and the session has no live or queued
   * run, marks the session running with the user's message, and reads the conversation so far
   * (that message last): what the run sends its model. On PostgreSQL one statement, the access
   * check included, shared with the runs starting at the same moment (postgres/run-batches.ts),
   * where a chat message's start once took a round trip for each: the access check, the busy
   * check, the run, the session with the message, the conversation. A concurrent start in
   * another process fails on the one-live-run index.
   */
  async startUnlessBusy(run: RunRow, message: NewMessage): Promise<StartAttempt> {
    if (this.dialect !== 'sqlite') return this.batches.start(run, message);
    const sessionId = run.session_id;
    const at = run.started_at ?? run.created_at;
    const found = await this.prepared.first('sessions.findWithRole', { id: sessionId, userId: run.user_id }, selectSessionWithRole);
    const access = found && withRole(found);
    if (!access?.role || (await this.hasLiveOrQueued(sessionId))) return { access, history: null };
    await this.create(run);
    await this.prepared.execute('sessions.markRunning', { sessionId, at }, markSessionRunning);
    await this.prepared.execute('messages.appendOne', message, insertMessage);
    return { access, history: await this.prepared.rows('messages.all', { sessionId }, selectConversation) };
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
   * Ends a run that is still `running` as completed, with its final message, and settles its
   * session (usage, status: see settledSession). 'lost' when another ending won (the message is
   * then not saved); 'queued' when the session has a queued run to start next, else 'settled'.
   * On PostgreSQL in one statement, shared with the runs finishing at the same moment.
   */
  async finish(id: string, completion: Completion, settle: FinishRequest['settle'], message: NewMessage): Promise<'lost' | 'settled' | 'queued'> {
    if (this.dialect !== 'sqlite') return this.batches.finish({ runId: id, completion, settle, message });
    if (!(await this.transition(id, ['running'], { ...completion, state: 'completed' }))) return 'lost';
    await this.prepared.execute('messages.appendOne', message, insertMessage);
    const settled = await this.prepared.first('sessions.settleReturningStatus', settlement(settle.sessionId, settle.usage, settle.outcome, settle.at), (db, v) => settleSession(db, v).returning('status'));
    // settledSession keeps a session `running` exactly when a run of it is queued.
    return settled?.status === 'running' ? 'queued' : 'settled';
  }
}
