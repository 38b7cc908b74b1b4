import { computed, signal } from '@preact/signals';

/**
 * The app's own paths. The server answers each with index.html (src/http/routes/web.ts keeps
 * the same list), so a reload or a shared link opens the same view.
 */
export type Route =
  | { page: 'sign-in' }
  | { page: 'sign-up' }
  | { page: 'home' }
  | { page: 'workspace'; workspaceId: string }
  | { page: 'session'; sessionId: string };

export const path = signal(location.pathname);

export const route = computed<Route>(() => {
  const parts = path.value.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'sign-in') return { page: 'sign-in' };
  if (parts[0] === 'sign-up') return { page: 'sign-up' };
  if (parts[0] === 'workspaces' && parts[1]) return { page: 'workspace', workspaceId: parts[1] };
  if (parts[0] === 'sessions' && parts[1]) return { page: 'session', sessionId: parts[1] };
  return { page: 'home' };
});

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === location.pathname) return;
  if (options.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  path.value = location.pathname;
}

window.addEventListener('popstate', () => {
  path.value = location.pathname;
});

export const sessionPath = (sessionId: string) => `/sessions/${encodeURIComponent(sessionId)}`;
export const workspacePath = (workspaceId: string) => `/workspaces/${encodeURIComponent(workspaceId)}`;
