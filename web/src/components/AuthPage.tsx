import { useSignal } from '@preact/signals';
import { messageOf } from '../api/client';
import { signIn, signUp } from '../state/auth';
import { Link } from './Link';
import { ThemeToggle } from './ThemeToggle';

/** Sign in, or create an account (which also creates its default workspace). */
export function AuthPage({ mode }: { mode: 'sign-in' | 'sign-up' }) {
  const email = useSignal('');
  const password = useSignal('');
  const username = useSignal('');
  const error = useSignal<string | null>(null);
  const busy = useSignal(false);
  const signingUp = mode === 'sign-up';

  const submit = async (event: Event) => {
    event.preventDefault();
    busy.value = true;
    error.value = null;
    try {
      if (signingUp) await signUp(email.value.trim(), password.value, username.value.trim() || undefined);
      else await signIn(email.value.trim(), password.value);
    } catch (failure) {
      error.value = messageOf(failure);
    } finally {
      busy.value = false;
    }
  };

  return (
    <main class="auth-page">
      <div class="auth-card">
        <div class="auth-top">
          <h1 class="brand">TokenDance</h1>
          <ThemeToggle />
        </div>
        <h2>{signingUp ? 'Create an account' : 'Sign in'}</h2>
        <form onSubmit={submit} class="stack">
          <label>
            Email
            <input type="email" name="email" autocomplete="email" required value={email.value} onInput={(event) => (email.value = event.currentTarget.value)} />
          </label>
          {signingUp && (
            <label>
              <span>
                Name <span class="muted">(optional)</span>
              </span>
              <input type="text" name="username" autocomplete="nickname" value={username.value} onInput={(event) => (username.value = event.currentTarget.value)} />
            </label>
          )}
          <label>
            Password
            <input
              type="password"
              name="password"
              autocomplete={signingUp ? 'new-password' : 'current-password'}
              required
              minLength={signingUp ? 8 : 1}
              value={password.value}
              onInput={(event) => (password.value = event.currentTarget.value)}
            />
          </label>
          {signingUp && <p class="hint">At least 8 characters.</p>}
          {error.value && (
            <p class="error" role="alert">
              {error.value}
            </p>
          )}
          <button type="submit" class="primary" disabled={busy.value}>
            {signingUp ? 'Create account' : 'Sign in'}
          </button>
        </form>
        <p class="switch">
          {signingUp ? (
            <>
              Have an account? <Link href="/sign-in">Sign in</Link>
            </>
          ) : (
            <>
              New here? <Link href="/sign-up">Create an account</Link>
            </>
          )}
        </p>
      </div>
    </main>
  );
}
