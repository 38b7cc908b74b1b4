import { signal } from '@preact/signals';
import { createSession, listSessions } from '../api/endpoints';
import type { Session, SessionStatus } from '../api/types';

export const sessions = signal<Session[]>([]);
export const sessionsError = signal<string | null>(null);

let polled: string | null = null;
let timer: ReturnType<typeof setInterval> | undefined;

/** There is no workspace-wide stream: the list is polled while visible; the open session updates its own row live. */
const POLL_MS = 5000;

export async function refreshSessions(workspaceId: string): Promise<void> {
  try {
    const page = await listSessions(workspaceId);
    if (polled === workspaceId) sessions.value = page.items;
    sessionsError.value = null;
  } catch (error) {
    sessionsError.value = error instanceof Error ? error.message : String(error);
  }
}

export function watchSessions(workspaceId: string | null): void {
  if (polled === workspaceId) return;
  polled = workspaceId;
  clearInterval(timer);
  sessions.value = [];
  if (!workspaceId) return;
  void refreshSessions(workspaceId);
  timer = setInterval(() => {
    if (document.visibilityState === 'visible') void refreshSessions(workspaceId);
  }, POLL_MS);
}

export function updateSessionStatus(sessionId: string, status: string): void {
  sessions.value = sessions.value.map((session) => (session.id === sessionId && session.status !== status ? { ...session, status: status as SessionStatus } : session));
}

export async function newSession(workspaceId: string, title: string | undefined, taskType: string | undefined): Promise<Session> {
  const session = await createSession(workspaceId, title, taskType);
  sessions.value = [session, ...sessions.value.filter((existing) => existing.id !== session.id)];
  return session;
}
