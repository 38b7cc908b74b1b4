import type { Kysely } from 'kysely';
import type { ApprovalRow, Database } from '../schema.js';

export class ApprovalsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async create(approval: ApprovalRow): Promise<void> {
    await this.db.insertInto('approvals').values(approval).execute();
  }

  findById(id: string): Promise<ApprovalRow | undefined> {
    return this.db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
  }

  listPending(sessionId: string): Promise<ApprovalRow[]> {
    return this.db
      .selectFrom('approvals')
      .selectAll()
      .where('session_id', '=', sessionId)
      .where('status', '=', 'pending')
      .orderBy('created_at', 'asc')
      .execute();
  }

  async countPending(sessionId: string): Promise<number> {
    const row = await this.db
      .selectFrom('approvals')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('session_id', '=', sessionId)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(row?.count ?? 0);
  }

  async countAllPending(): Promise<number> {
    const row = await this.db
      .selectFrom('approvals')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(row?.count ?? 0);
  }

  /** The approval asked for one tool call of a run, if any: a call is asked about at most once. */
  findByCall(runId: string, callId: string): Promise<ApprovalRow | undefined> {
    return this.db.selectFrom('approvals').selectAll().where('run_id', '=', runId).where('call_id', '=', callId).executeTakeFirst();
  }

  /** Pending approvals whose deadline has passed (also those that expired while the server was down). */
  listExpired(now: string, limit = 100): Promise<ApprovalRow[]> {
    return this.db
      .selectFrom('approvals')
      .selectAll()
      .where('status', '=', 'pending')
      .where('expires_at', '<=', now)
      .orderBy('expires_at', 'asc')
      .limit(limit)
      .execute();
  }

  listPendingForRun(runId: string): Promise<ApprovalRow[]> {
    return this.db.selectFrom('approvals').selectAll().where('run_id', '=', runId).where('status', '=', 'pending').execute();
  }

  /** Answers a pending approval exactly once; false when it was already answered or expired. */
  async resolve(id: string, changes: { status: string; feedback: string | null; responded_by: string | null; responded_at: string }): Promise<boolean> {
    const result = await this.db
      .updateTable('approvals')
      .set(changes)
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}
