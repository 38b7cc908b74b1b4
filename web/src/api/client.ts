import { clearAuth, readAuth, writeAuth } from './tokens';
import type { TokenPair } from './types';

/** An API answer outside 2xx, with the server's `detail` and `error_code` (SPEC §2). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  body?: unknown;
  signal?: AbortSignal;
  /** Send without the bearer token (sign-in, sign-up, refresh). */
  anonymous?: boolean;
}

const signedOutListeners = new Set<() => void>();

/** Called when the login is gone for good: refresh refused, or signed out. */
export function onSignedOut(listener: () => void): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

export function forgetLogin(): void {
  clearAuth();
  for (const listener of signedOutListeners) listener();
}

let refreshing: Promise<boolean> | null = null;

/**
 * Trades the refresh token for a new pair. Refresh tokens are single use and a reused one revokes
 * the whole login (SPEC §3), so tabs must never refresh at once: a Web Lock serialises them, and
 * a tab that finds the stored token already replaced by another tab just uses the new one.
 */
export function refreshLogin(rejectedAccessToken: string): Promise<boolean> {
  refreshing ??= withRefreshLock(async () => {
    const current = readAuth();
    if (!current) return false;
    if (current.accessToken !== rejectedAccessToken) return true;
    const response = await fetch('/api/v1/auth/refresh', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: current.refreshToken }),
    });
    if (response.status === 400 || response.status === 401) {
      forgetLogin();
      return false;
    }
    if (!response.ok) throw await errorOf(response);
    const pair = (await response.json()) as TokenPair;
    writeAuth({ ...current, accessToken: pair.access_token, refreshToken: pair.refresh_token });
    return true;
  }).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

function withRefreshLock<T>(task: () => Promise<T>): Promise<T> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  return locks ? (locks.request('tokendance-refresh', task) as Promise<T>) : task();
}

/** A request with the bearer token; on 401 the login is refreshed once and the request repeated. */
export async function apiResponse(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const token = options.anonymous ? undefined : readAuth()?.accessToken;
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
    if (response.status === 401 && token && attempt === 0 && (await refreshLogin(token))) continue;
    if (response.status === 401 && token) forgetLogin();
    if (!response.ok) throw await errorOf(response);
    return response;
  }
}

export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const response = await apiResponse(method, path, options);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

async function errorOf(response: Response): Promise<ApiError> {
  let code = 'HTTP_ERROR';
  let detail = `${response.status} ${response.statusText}`;
  try {
    const body = (await response.json()) as { detail?: string; error_code?: string };
    if (body.detail) detail = body.detail;
    if (body.error_code) code = body.error_code;
  } catch {
    // Not JSON (a proxy's page): the status line says enough.
  }
  return new ApiError(response.status, code, detail);
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError) return 'The server cannot be reached. Check the connection.';
  return error instanceof Error ? error.message : String(error);
}
