import { api, apiResponse } from './client';
import { readAuth } from './tokens';
import type {
  Artifact,
  AuthResult,
  List,
  Message,
  PendingApprovalRecord,
  Session,
  SessionDetails,
  User,
  WorkingMemory,
  Workspace,
} from './types';

const v1 = '/api/v1';
const id = encodeURIComponent;

export const register = (email: string, password: string, username?: string) =>
  api<AuthResult>('POST', `${v1}/auth/register`, { anonymous: true, body: { email, password, ...(username ? { username } : {}) } });

export const login = (email: string, password: string) => api<AuthResult>('POST', `${v1}/auth/login`, { anonymous: true, body: { email, password } });

/** Revokes the access token and its refresh family on the server. */
export const logout = () => api<void>('POST', `${v1}/auth/logout`, { body: { refresh_token: readAuth()?.refreshToken } });

export const me = () => api<User>('GET', `${v1}/auth/me`);

export const streamTicket = () => api<{ ticket: string; expires_in: number }>('POST', `${v1}/auth/stream-ticket`);

export const listWorkspaces = () => api<List<Workspace>>('GET', `${v1}/workspaces`);
export const createWorkspace = (name: string) => api<Workspace>('POST', `${v1}/workspaces`, { body: { name } });

export const listSessions = (workspaceId: string, limit = 50) =>
  api<List<Session> & { limit: number; offset: number }>('GET', `${v1}/sessions?workspace_id=${id(workspaceId)}&limit=${limit}`);
export const createSession = (workspaceId: string, title: string | undefined, taskType: string | undefined) =>
  api<Session>('POST', `${v1}/sessions`, { body: { workspace_id: workspaceId, ...(title ? { title } : {}), ...(taskType ? { task_type: taskType } : {}) } });
export const sessionDetails = (sessionId: string) => api<SessionDetails>('GET', `${v1}/sessions/${id(sessionId)}?include_details=true`);
export const deleteSession = (sessionId: string) => api<void>('DELETE', `${v1}/sessions/${id(sessionId)}`);
export const listMessages = (sessionId: string, limit: number, before?: string) =>
  api<List<Message>>('GET', `${v1}/sessions/${id(sessionId)}/messages?limit=${limit}${before ? `&before=${id(before)}` : ''}`);
export const listArtifacts = (sessionId: string) => api<List<Artifact>>('GET', `${v1}/sessions/${id(sessionId)}/artifacts`);
export const pendingApprovals = (sessionId: string) => api<PendingApprovalRecord[]>('GET', `${v1}/sessions/${id(sessionId)}/hitl/pending`);
export const workingMemory = (sessionId: string) => api<WorkingMemory>('GET', `${v1}/chat/${id(sessionId)}/working-memory`);

export const answerApproval = (requestId: string, approved: boolean, feedback?: string) =>
  api<{ request_id: string; approved: boolean }>('POST', `${v1}/hitl/${id(requestId)}/confirm`, {
    body: { approved, ...(feedback ? { user_feedback: feedback } : {}) },
  });

export const stopRun = (sessionId: string) => api<{ stopped: boolean }>('POST', `${v1}/chat/${id(sessionId)}/stop`);

/**
 * Starts a run. The answer is that run's SSE stream, which this app does not read: the session
 * stream already carries every event. Closing the response does not stop the run (SPEC §5.1:
 * only /stop does), and closing it at once frees its slot in the per-user stream limit.
 */
export async function sendMessage(sessionId: string, content: string): Promise<void> {
  const response = await apiResponse('POST', `${v1}/chat/${id(sessionId)}/message`, { body: { content } });
  await response.body?.cancel();
}

/** Artifact downloads need the bearer token, which a plain link cannot send. */
export async function downloadArtifact(artifact: Artifact): Promise<void> {
  const response = await apiResponse('GET', artifact.download_url);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = artifact.name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
