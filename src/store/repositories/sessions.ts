import type { ExpressionBuilder, Kysely, QueryCreator } from 'kysely';
import type { Dialect } from '../database.js';
import { insertMessage, type NewMessage } from './messages.js';
import { PreparedQueries } from '../prepared.js';
import type { Database, NewSession, SessionRow, SessionUpdate } from '../schema.js';

export interface SessionListQuery {
  workspaceId: string;
  status?: string;
  limit: number;
  offset: number;
}

/** A session as an access check reads it: with its workspace's tool policy (JSON), which a run started from it needs. */
export type AccessedSession = SessionRow & { workspace_tool_policy: string | null };

/** A session as an access check finds it, and the user's role in its workspace (null: not a member). */
export interface SessionWithRole {
  session: AccessedSession;
  role: string | null;
}

/** The session with its workspace's tool policy and the role of `userId` there: what an access check reads. */
export const selectSessionWithRole = (db: QueryCreator<Database>, v: { id: string; userId: string }) =>
  db
    .selectFrom('sessions')
    .innerJoin('workspaces', 'workspaces.id', 'sessions.workspace_id')
    .leftJoin('workspace_members', (join) => join.onRef('workspace_members.workspace_id', '=', 'sessions.workspace_id').on('workspace_members.user_id', '=', v.userId))
    .selectAll('sessions')
    .select(['workspace_members.role as member_role', 'workspaces.tool_policy as workspace_tool_policy'])
    .where('sessions.id', '=', v.id);

/** Splits a row of selectSessionWithRole into the session and the role. */
export function withRole({ member_role: role, ...session }: AccessedSession & { member_role: string | null }): SessionWithRole {
  return { session, role };
}

export class SessionsRepository {
  /** What every run makes on its way: compiled once (prepared.ts). */
  private readonly prepared: PreparedQueries<Database>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {
    this.prepared = new PreparedQueries(db);
  }

  async create(session: NewSession): Promise<void> {
    await this.db.insertInto('sessions').values(session).execute();
  }

  findById(id: string): Promise<SessionRow | undefined> {
    return this.prepared.first('sessions.findById', { id }, (db, v) => db.selectFrom('sessions').selectAll().where('id', '=', v.id));
  }

  /** The session and the user's role in its workspace (null: not a member), in one read. */
  async findWithRole(id: string, userId: string): Promise<SessionWithRole | undefined> {
    const row = await this.prepared.first('sessions.findWithRole', { id, userId }, selectSessionWithRole);
    return row && withRole(row);
  }

  findServiceSession(userId: string): Promise<SessionRow | undefined> {
    return this.db
      .selectFrom('sessions')
      .selectAll()
      .where('user_id', '=', userId)
      .where('kind', '=', 'service')
      .orderBy('created_at', 'asc')
      .executeTakeFirst();
  }

  async list(query: SessionListQuery): Promise<{ items: SessionRow[]; total: number }> {
    let base = this.db.selectFrom('sessions').where('workspace_id', '=', query.workspaceId);
    if (query.status) base = base.where('status', '=', query.status);
    const [items, count] = await Promise.all([
      base
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(query.limit)
        .offset(query.offset)
        .execute(),
      base.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirst(),
    ]);
    return { items, total: Number(count?.total ?? 0) };
  }

  async update(id: string, changes: SessionUpdate): Promise<void> {
    await this.prepared.execute('sessions.update', { ...changes, id }, (db, { id: sessionId, ...set }) => db.updateTable('sessions').set(set).where('id', '=', sessionId));
  }

  /**
   * After a run ends, in one statement: adds its token usage and settles the status (`running`
   * while another run of the session is queued, otherwise the run's outcome).
   */
  async settleAfterRun(id: string, usage: { inputTokens: number; outputTokens: number }, outcome: 'completed' | 'error', at: string): Promise<void> {
    await this.prepared.execute('sessions.settle', settlement(id, usage, outcome, at), settleSession);
  }

  /**
   * A run starts: the session becomes `running` and gets the user's message. On PostgreSQL one
   * statement (one round trip before the model is called, not two).
   */
  async markRunning(id: string, at: string, message: NewMessage): Promise<void> {
    if (this.dialect === 'sqlite') {
      await this.prepared.execute('sessions.markRunning', { sessionId: id, at }, markSessionRunning);
      await this.prepared.execute('messages.appendOne', message, insertMessage);
      return;
    }
    await this.prepared.execute('sessions.markRunningWithMessage', { ...message, sessionId: id, at }, (db, { sessionId, at: updatedAt, ...row }) =>
      markSessionRunning(db.with('message', (query) => insertMessage(query, row).returning('id')), { sessionId, at: updatedAt }),
    );
  }

  /** Deletes the session; messages, runs, events, approvals and artifacts go with it (FK cascade). */
  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id', '=', id).execute();
  }

  /** Session ids of every workspace the user belongs to. */
  async idsVisibleTo(userId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('sessions')
      .innerJoin('workspace_members', 'workspace_members.workspace_id', 'sessions.workspace_id')
      .select('sessions.id')
      .where('workspace_members.user_id', '=', userId)
      .execute();
    return rows.map((row) => row.id);
  }
}

/** The UPDATE that marks a session running as one of its runs starts. */
export const markSessionRunning = <DB extends Database>(db: QueryCreator<DB>, v: { sessionId: string; at: string }) =>
  (db as unknown as QueryCreator<Database>).updateTable('sessions').set({ status: 'running', updated_at: v.at }).where('id', '=', v.sessionId);

/** What settles a session after a run, as query values. */
export type Settlement = {
  sessionId: string;
  input: number;
  output: number;
  outcome: string;
  at: string;
};

export const settlement = (sessionId: string, usage: { inputTokens: number; outputTokens: number }, outcome: 'completed' | 'error', at: string): Settlement => ({
  sessionId,
  input: usage.inputTokens,
  output: usage.outputTokens,
  outcome,
  at,
});

/** The UPDATE that settles a session after a run (see settledSession). */
export const settleSession = (db: Kysely<Database>, v: Settlement) => db.updateTable('sessions').set((eb) => settledSession(eb, v)).where('id', '=', v.sessionId);

/**
 * What a session becomes after a run: its usage added, and `running` while another run of it is
 * queued, otherwise the run's outcome.
 */
export const settledSession = (eb: ExpressionBuilder<Database, 'sessions'>, v: Omit<Settlement, 'sessionId'>) => ({
  input_tokens: eb('input_tokens', '+', v.input),
  output_tokens: eb('output_tokens', '+', v.output),
  status: eb
    .case()
    .when(eb.exists(eb.selectFrom('runs').select('runs.id').whereRef('runs.session_id', '=', 'sessions.id').where('runs.state', '=', 'queued')))
    .then('running')
    .else(v.outcome)
    .end(),
  updated_at: v.at,
});
