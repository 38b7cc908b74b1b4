import { type ExpressionBuilder, type Kysely, type Updateable } from 'kysely';
import type { Dialect } from '../database.js';
import { PreparedQueries } from '../prepared.js';
import { insertMessage, insertMessageWhen, MESSAGE_COLUMNS, type NewMessage, selectConversation } from './messages.js';
import { markSessionRunning, selectSessionWithRole, type SessionWithRole, settledSession, settleSession, settlement, withRole } from './sessions.js';
import type { Database, MessageRow, RunRow, RunsTable } from '../schema.js';

/** Run states; `queued` waits behind another run of the same session. */
export const ACTIVE_RUN_STATES = ['queued', 'running', 'waiting_approval'] as const;
export const LIVE_RUN_STATES = ['running', 'waiting_approval'] as const;
/** The runs table's number columns. */
const NUMBER_COLUMNS = new Set<string>(['iterations', 'input_tokens', 'output_tokens']);

/** What a start found: the session and the user's role there (undefined: no such session), and the conversation if the run started (null: it did not). */
export interface StartAttempt {
  access: SessionWithRole | undefined;
  history: MessageRow[] | null;
}

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

  /**
   * Creates a running run if its user may use its session and the session has no live or queued
   * run, marks the session running with the user's message, and reads the conversation so far
   * (that message last): what the run sends its model. On PostgreSQL one statement, the access
   * check included, where a chat message's start once took a round trip for each: the access
   * check, the busy check, the run, the session with the message, the conversation. A concurrent
   * start in another process fails on the one-live-run index.
   */
  async startUnlessBusy(run: RunRow, message: NewMessage): Promise<StartAttempt> {
    const sessionId = run.session_id;
    const at = run.started_at ?? run.created_at;
    if (this.dialect === 'sqlite') {
      const found = await this.prepared.first('sessions.findWithRole', { id: sessionId, userId: run.user_id }, selectSessionWithRole);
      const access = found && withRole(found);
      if (!access?.role || (await this.hasLiveOrQueued(sessionId))) return { access, history: null };
      await this.create(run);
      await this.prepared.execute('sessions.markRunning', { sessionId, at }, markSessionRunning);
      await this.prepared.execute('messages.appendOne', message, insertMessage);
      return { access, history: await this.prepared.rows('messages.all', { sessionId }, selectConversation) };
    }
    const values: Record<string, unknown> = { ...run, at, ...messageValues(message) };
    const rows = (await this.prepared.rows('runs.startUnlessBusy', values, (db, v) => {
      const runKeys = Object.keys(run) as Array<keyof RunRow>;
      // A parameter in a SELECT list is text to PostgreSQL: the number columns need a cast (the others are text).
      const runValue = (eb: ExpressionBuilder<Database, never>, key: keyof RunRow) => (NUMBER_COLUMNS.has(key) ? eb.cast(eb.val(v[key]), 'bigint') : eb.val(v[key])).as(key);
      return db
        .with('access', (query) => selectSessionWithRole(query, { id: v.session_id as string, userId: v.user_id as string }))
        .with('busy', (query) => query.selectFrom('runs').select('id').where('session_id', '=', v.session_id as string).where('state', 'in', [...ACTIVE_RUN_STATES]).limit(1))
        .with('created', (query) =>
          query
            .insertInto('runs')
            .columns(runKeys)
            .expression(
              query
                .selectNoFrom((eb) => runKeys.map((key) => runValue(eb, key)))
                .where((eb) => eb.and([eb.exists(eb.selectFrom('access').select('access.id').where('access.member_role', 'is not', null)), eb.not(eb.exists(eb.selectFrom('busy').select('busy.id')))])),
            )
            .returning('id'),
        )
        .with('message', (query) => insertMessageWhen(query as never, 'created', (column) => v[`message.${column}`]))
        .with('session', (query) =>
          query
            .updateTable('sessions')
            .set({ status: 'running', updated_at: v.at as string })
            .where('id', '=', v.session_id as string)
            .where((eb) => eb.exists(eb.selectFrom('created').select('created.id')))
            .returning('id'),
        )
        // The statement's snapshot predates its own writes: the session before this start, the conversation before this message.
        .selectFrom('access')
        .leftJoin('created', (join) => join.onTrue())
        .leftJoin('messages', (join) => join.on('messages.session_id', '=', v.session_id as string).on('created.id', 'is not', null))
        .selectAll('access')
        .select(['created.id as created_run_id', ...MESSAGE_COLUMNS.map((column) => `messages.${column} as message_${column}` as const)])
        .orderBy('messages.position', 'asc');
    })) as unknown as StartRow[];
    const first = rows[0];
    if (!first) return { access: undefined, history: null };
    const access = withRole(sessionOfStartRow(first));
    if (first.created_run_id === null) return { access, history: null };
    const before: MessageRow[] = [];
    for (const row of rows) if (row.message_id !== null) before.push(messageOfStartRow(row));
    const position = before.length === 0 ? 1 : Number(before.at(-1)!.position) + 1;
    return { access, history: [...before, { ...message, attachments: message.attachments ?? null, position }] };
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
   * Ends a run still in one of `from`, with its final message if it has one, and settles its
   * session (usage, status: see settledSession). 'lost' when another ending won (the message is
   * then not saved); 'queued' when the session has a queued run to start next, else 'settled'.
   * On PostgreSQL in one statement.
   */
  async finish(
    id: string,
    from: readonly string[],
    changes: Updateable<RunsTable>,
    settle: { sessionId: string; usage: { inputTokens: number; outputTokens: number }; outcome: 'completed' | 'error'; at: string },
    message?: NewMessage,
  ): Promise<'lost' | 'settled' | 'queued'> {
    const outcome = settlement(settle.sessionId, settle.usage, settle.outcome, settle.at);
    let settled: { status: string } | undefined;
    if (this.dialect === 'sqlite') {
      if (!(await this.transition(id, from, changes))) return 'lost';
      if (message) await this.prepared.execute('messages.appendOne', message, insertMessage);
      settled = await this.prepared.first('sessions.settleReturningStatus', outcome, (db, v) => settleSession(db, v).returning('status'));
    } else {
      const name = `runs.finish:${from.join('|')}${message ? ':message' : ''}`;
      const values = { ...changes, ...outcome, runId: id, ...(message ? messageValues(message) : {}) };
      settled = await this.prepared.first(name, values, (db, { runId, sessionId, input, output, outcome: result, at, ...rest }) => {
        const finished = db.with('finished', (query) => query.updateTable('runs').set(withoutMessage(rest)).where('id', '=', runId).where('state', 'in', [...from]).returning('id'));
        const messageValue = (column: string) => (rest as Record<string, unknown>)[`message.${column}`];
        return (message ? (finished.with('message', (query) => insertMessageWhen(query as never, 'finished', messageValue)) as unknown as typeof finished) : finished)
          .updateTable('sessions')
          .set((eb) => settledSession(eb, { input, output, outcome: result, at }))
          .where('id', '=', sessionId)
          .where((eb) => eb.exists(eb.selectFrom('finished').select('finished.id')))
          .returning('status');
      });
      if (!settled) return 'lost';
    }
    // settledSession keeps a session `running` exactly when a run of it is queued.
    return settled?.status === 'running' ? 'queued' : 'settled';
  }
}

/** A message's columns as query values of a statement that has other values too. */
function messageValues(message: NewMessage): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) values[`message.${key}`] = value;
  return values;
}

/** The run's own columns among a statement's values. */
function withoutMessage(values: Record<string, unknown>): Updateable<RunsTable> {
  const run: Record<string, unknown> = {};
  for (const key in values) if (!key.startsWith('message.')) run[key] = values[key];
  return run as Updateable<RunsTable>;
}

type StartRow = Record<string, unknown> & { created_run_id: string | null; message_id: string | null };

/** The session's columns of a row of the start statement (the message columns are prefixed `message_`). */
function sessionOfStartRow(row: StartRow) {
  const session: Record<string, unknown> = {};
  for (const key in row) if (key !== 'created_run_id' && !key.startsWith('message_')) session[key] = row[key];
  return session as Parameters<typeof withRole>[0];
}

function messageOfStartRow(row: StartRow): MessageRow {
  const message: Record<string, unknown> = {};
  for (const column of MESSAGE_COLUMNS) message[column] = row[`message_${column}`];
  return message as unknown as MessageRow;
}
