import { forbidden, notFound } from '../core/errors.js';
import { isoNow, newId } from '../core/ids.js';
import type { Workspace } from '../schemas/workspace.js';
import type { WorkspaceRow } from '../store/schema.js';
import type { Store } from '../store/store.js';

const present = (row: WorkspaceRow, role: string): Workspace => ({
  id: row.id,
  name: row.name,
  role,
  created_at: row.created_at,
  tool_policy: row.tool_policy ? (JSON.parse(row.tool_policy) as Workspace['tool_policy']) : null,
});

export class WorkspacesService {
  constructor(private readonly store: Store) {}

  async list(userId: string): Promise<{ items: Workspace[]; total: number }> {
    const rows = await this.store.workspaces.listForUser(userId);
    return { items: rows.map((row) => present(row, row.role)), total: rows.length };
  }

  async create(userId: string, name: string): Promise<Workspace> {
    const row: WorkspaceRow = { id: newId(), name, owner_id: userId, created_at: isoNow(), tool_policy: null };
    await this.store.workspaces.create(row);
    return present(row, 'owner');
  }

  async get(userId: string, workspaceId: string): Promise<Workspace> {
    const { workspace, role } = await this.requireMember(userId, workspaceId);
    return present(workspace, role);
  }

  /** Any member may rename the workspace or set its tool policy. */
  async update(userId: string, workspaceId: string, changes: { name?: string; tool_policy?: Workspace['tool_policy'] }): Promise<Workspace> {
    const { workspace, role } = await this.requireMember(userId, workspaceId);
    const update: Partial<Pick<WorkspaceRow, 'name' | 'tool_policy'>> = {};
    if (changes.name !== undefined) update.name = changes.name;
    if (changes.tool_policy !== undefined) update.tool_policy = changes.tool_policy === null ? null : JSON.stringify(changes.tool_policy);
    if (Object.keys(update).length > 0) await this.store.workspaces.update(workspaceId, update);
    return present({ ...workspace, ...update }, role);
  }

  /** 404 when the workspace does not exist, 403 when it exists but the user is not a member. */
  async requireMember(userId: string, workspaceId: string): Promise<{ workspace: WorkspaceRow; role: string }> {
    const workspace = await this.store.workspaces.findById(workspaceId);
    if (!workspace) throw notFound('Workspace');
    const role = await this.store.workspaces.roleOf(workspaceId, userId);
    if (!role) throw forbidden('You are not a member of this workspace');
    return { workspace, role };
  }
}
