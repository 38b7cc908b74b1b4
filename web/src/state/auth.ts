import { signal } from '@preact/signals';
import { forgetLogin, onSignedOut } from '../api/client';
import { login, logout, register } from '../api/endpoints';
import { onStoredAuthChange, readAuth, writeAuth } from '../api/tokens';
import type { AuthResult, User } from '../api/types';
import { navigate } from './router';

export const currentUser = signal<User | null>(readAuth()?.user ?? null);

function signedIn(result: AuthResult): void {
  writeAuth({ accessToken: result.access_token, refreshToken: result.refresh_token, user: result.user, defaultWorkspaceId: result.default_workspace_id });
  currentUser.value = result.user;
  navigate('/', { replace: true });
}

export async function signIn(email: string, password: string): Promise<void> {
  signedIn(await login(email, password));
}

export async function signUp(email: string, password: string, username?: string): Promise<void> {
  signedIn(await register(email, password, username));
}

export async function signOut(): Promise<void> {
  try {
    await logout();
  } catch {
    // Signed out locally either way; the server forgets the tokens when they expire.
  }
  forgetLogin();
}

export const defaultWorkspaceId = () => readAuth()?.defaultWorkspaceId;

onSignedOut(() => {
  currentUser.value = null;
  navigate('/sign-in', { replace: true });
});

// Signing in or out in another tab applies here too.
onStoredAuthChange((auth) => {
  if (!auth && currentUser.value) {
    currentUser.value = null;
    navigate('/sign-in', { replace: true });
  } else if (auth && auth.user.id !== currentUser.value?.id) {
    currentUser.value = auth.user;
    navigate('/', { replace: true });
  }
});
