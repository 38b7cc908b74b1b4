import type { User } from './types';

/**
 * Where the login lives: localStorage, so every tab and a restarted browser stay signed in.
 * sessionStorage would sign out each new tab; an httpOnly cookie is not what the API speaks
 * (bearer tokens). The exposure to script injection is the same for both storages; the CSP
 * (scripts from this origin only) and sanitised Markdown are what keep script out.
 */
const KEY = 'tokendance.auth';

export interface StoredAuth {
  accessToken: string;
  refreshToken: string;
  user: User;
  defaultWorkspaceId: string;
}

export function readAuth(): StoredAuth | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as StoredAuth) : null;
  } catch {
    return null;
  }
}

export function writeAuth(auth: StoredAuth): void {
  localStorage.setItem(KEY, JSON.stringify(auth));
}

export function clearAuth(): void {
  localStorage.removeItem(KEY);
}

/** Another tab signed in, refreshed or signed out. */
export function onStoredAuthChange(listener: (auth: StoredAuth | null) => void): () => void {
  const handler = (event: StorageEvent) => {
    if (event.key === KEY || event.key === null) listener(readAuth());
  };
  window.addEventListener('storage', handler);
  return () => window.removeEventListener('storage', handler);
}
