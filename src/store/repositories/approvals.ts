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
