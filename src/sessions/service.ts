import { resolve, sep } from 'node:path';
import { conflict, notFound, validationError } from '../core/errors.js';
import { isoNow, newId } from '../core/ids.js';
import type { Artifact } from '../schemas/artifact.js';
import type { Message } from '../schemas/message.js';
import type { Session, SessionStatus } from '../schemas/session.js';
import type { ArtifactRow, MessageRow, SessionRow } from '../store/schema.js';
import type { AccessedSession } from '../store/repositories/sessions.js';
import { accessibleSession } from './access.js';
import type { Store } from '../store/store.js';
import type { WorkspacesService } from '../workspaces/service.js';
import type { RunControl } from './run-control.js';
import type { SessionDirectories } from './workspace-dir.js';

export const presentSession = (row: SessionRow): Session => ({
  id: row.id,
  workspace_id: row.workspace_id,
  title: row.title,
  task_type: row.task_type,
  status: row.status as SessionStatus,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

export const presentMessage = (row: MessageRow): Message => ({
  id: row.id,
  role: row.role as Message['role'],
  content: row.content,
  ...(row.tool_calls ? { tool_calls: JSON.parse(row.tool_calls) } : {}),
  ...(row.tool_call_id ? { tool_call_id: row.tool_call_id } : {}),
  created_at: row.created_at,
});

export const presentArtifact = (row: ArtifactRow): Artifact => ({
  id: row.id,
  name: row.name,
  path: row.path,
  mime_type: row.mime_type,
  size: Number(row.size),
  created_at: row.created_at,
  download_url: `/api/v1/artifacts/${row.id}/content`,
});

export class SessionsService {
  /** Set once the agent runtime exists; until then no session can have a run to stop. */
  runControl: RunControl | null = null;
  /** Told of every session created (the event log primes its counter). */
  onCreated: ((sessionId: string) => void) | null = null;

  constructor(
    private readonly store: Store,
    private readonly workspaces: WorkspacesService,
    private readonly directories: SessionDirectories,
    private readonly taskTypes: () => Iterable<string>,
  ) {}

  async create(userId: string, input: { workspace_id: string; title?: string; task_type?: string }, kind = 'chat'): Promise<Session> {
    await this.workspaces.requireMember(userId, input.workspace_id);
    const taskType = input.task_type ?? 'general';
    const known = [...this.taskTypes()];
    if (!known.includes(taskType)) {
      throw validationError(`Unknown task_type "${taskType}"`, [{ field: 'task_type', message: `must be one of: ${known.join(', ')}` }]);
    }
    const now = isoNow();
    const row: SessionRow = {
      id: newId(),
      workspace_id: input.workspace_id,
      user_id: userId,
      title: input.title ?? 'New session',
      task_type: taskType,
      status: 'created',
      kind,
      input_tokens: 0,
      output_tokens: 0,
      last_event_seq: 0,
      compacted_through_seq: 0,
      created_at: now,
      updated_at: now,
    };
    await this.store.sessions.create(row);
    this.onCreated?.(row.id);
    await this.directories.ensure(row.id);
    return presentSession(row);
  }

  async list(userId: string, query: { workspace_id: string; status?: string; limit: number; offset: number }) {
    await this.workspaces.requireMember(userId, query.workspace_id);
    const { items, total } = await this.store.sessions.list({
      workspaceId: query.workspace_id,
      status: query.status,
      limit: query.limit,
      offset: query.offset,
    });
    return { items: items.map(presentSession), total, limit: query.limit, offset: query.offset };
  }

  /** 404 for an unknown session, 403 when the user is not a member of its workspace. */
  async requireAccess(userId: string, sessionId: string): Promise<AccessedSession> {
    return accessibleSession(await this.store.sessions.findWithRole(sessionId, userId));
  }

  async get(userId: string, sessionId: string, includeDetails: boolean) {
    const session = await this.requireAccess(userId, sessionId);
    if (!includeDetails) return presentSession(session);
    const [messageCount, liveRun, pendingApprovals] = await Promise.all([
      this.store.messages.count(sessionId),
      this.store.runs.findLive(sessionId),
      this.store.approvals.countPending(sessionId),
    ]);
    return {
      ...presentSession(session),
      message_count: messageCount,
      usage: { input_tokens: Number(session.input_tokens), output_tokens: Number(session.output_tokens) },
      current_run: liveRun ? { id: liveRun.id, state: liveRun.state, started_at: liveRun.started_at } : null,
      pending_approvals: pendingApprovals,
    };
  }

  async patch(userId: string, sessionId: string, changes: { title?: string; status?: SessionStatus }): Promise<Session> {
    const session = await this.requireAccess(userId, sessionId);
    if (changes.status === 'running') {
      throw validationError('status "running" is set by the agent, not by hand', [
        { field: 'status', message: 'must be one of: created, completed, error' },
      ]);
    }
    if (changes.status && (await this.store.runs.findLive(sessionId))) {
      throw conflict('The session has an active run; stop it first');
    }
    const update = { ...changes, updated_at: isoNow() };
    await this.store.sessions.update(sessionId, update);
    return presentSession({ ...session, ...update });
  }

  async delete(userId: string, sessionId: string): Promise<void> {
    await this.requireAccess(userId, sessionId);
    await this.runControl?.stopSession(sessionId, 'session deleted');
    await this.store.sessions.delete(sessionId);
    await this.directories.remove(sessionId);
  }

  async complete(userId: string, sessionId: string): Promise<Session> {
    const session = await this.requireAccess(userId, sessionId);
    await this.runControl?.stopSession(sessionId, 'session completed');
    const update = { status: 'completed', updated_at: isoNow() };
    await this.store.sessions.update(sessionId, update);
    return presentSession({ ...session, ...update });
  }

  async messages(userId: string, sessionId: string, limit: number, before?: string) {
    await this.requireAccess(userId, sessionId);
    const { items, total } = await this.store.messages.list(sessionId, limit, before);
    return { items: items.map(presentMessage), total };
  }

  /** Absolute path of an artifact's file; artifact paths are stored relative to the session directory. */
  artifactPath(artifact: ArtifactRow): string {
    const base = this.directories.pathOf(artifact.session_id);
    const full = resolve(base, artifact.path);
    if (!full.startsWith(base + sep)) throw notFound('Artifact file');
    return full;
  }

  async artifacts(userId: string, sessionId: string) {
    await this.requireAccess(userId, sessionId);
    const rows = await this.store.artifacts.listForSession(sessionId);
    return { items: rows.map(presentArtifact), total: rows.length };
  }
}
