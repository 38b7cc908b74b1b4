import type { Kysely } from 'kysely';
import { PreparedQueries } from '../prepared.js';
import type { Database, WorkspaceRow } from '../schema.js';

export interface WorkspaceWithRole extends WorkspaceRow {
  role: string;
}

export class WorkspacesRepository {
  /** What every run makes on its way: compiled once (prepared.ts). */
  private readonly prepared: PreparedQueries<Database>;

  constructor(private readonly db: Kysely<Database>) {
    this.prepared = new PreparedQueries(db);
  }

  async create(workspace: WorkspaceRow): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('workspaces').values(workspace).execute();
      await trx
        .insertInto('workspace_members')
        .values({ workspace_id: workspace.id, user_id: workspace.owner_id, role: 'owner', created_at: workspace.created_at })
        .execute();
    });
  }

  async update(id: string, changes: Partial<Pick<WorkspaceRow, 'name' | 'tool_policy'>>): Promise<void> {
    await this.db.updateTable('workspaces').set(changes).where('id', '=', id).execute();
  }

  findById(id: string): Promise<WorkspaceRow | undefined> {
    return this.prepared.first('workspaces.findById', { id }, (db, v) => db.selectFrom('workspaces').selectAll().where('id', '=', v.id));
  }

  async roleOf(workspaceId: string, userId: string): Promise<string | undefined> {
    const row = await this.prepared.first('workspaces.roleOf', { workspaceId, userId }, (db, v) =>
      db.selectFrom('workspace_members').select('role').where('workspace_id', '=', v.workspaceId).where('user_id', '=', v.userId),
    );
    return row?.role;
  }

  listForUser(userId: string): Promise<WorkspaceWithRole[]> {
    return this.db
      .selectFrom('workspaces')
      .innerJoin('workspace_members', 'workspace_members.workspace_id', 'workspaces.id')
      .selectAll('workspaces')
      .select('workspace_members.role')
      .where('workspace_members.user_id', '=', userId)
      .orderBy('workspaces.created_at', 'asc')
      .orderBy('workspaces.id', 'asc')
      .execute();
  }

  /** The user's oldest owned workspace: the one registration created. */
  async defaultFor(userId: string): Promise<WorkspaceRow | undefined> {
    return this.db
      .selectFrom('workspaces')
      .selectAll()
      .where('owner_id', '=', userId)
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .executeTakeFirst();
  }
}
