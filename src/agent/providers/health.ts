/** Consecutive failed attempts after which a provider is reported as failing in /api/health. */
export const FAILING_AFTER = 3;

export interface ProviderHealthEntry {
  name: string;
  status: 'ok' | 'failing';
  consecutive_failures: number;
  last_error?: string;
  last_failure_at?: string;
}

/** Outcome of every model call attempt per provider, so operators see a failing provider before users report it. */
export class ProviderHealth {
  private readonly entries = new Map<string, { failures: number; lastError?: string; lastFailureAt?: string }>();

  succeeded(provider: string): void {
    this.entries.set(provider, { failures: 0 });
  }

  failed(provider: string, reason: string): void {
    const entry = this.entries.get(provider) ?? { failures: 0 };
    this.entries.set(provider, { failures: entry.failures + 1, lastError: reason, lastFailureAt: new Date().toISOString() });
  }

  report(): ProviderHealthEntry[] {
    return [...this.entries].map(([name, entry]) => ({
      name,
      status: entry.failures >= FAILING_AFTER ? 'failing' : 'ok',
      consecutive_failures: entry.failures,
      ...(entry.lastError ? { last_error: entry.lastError, last_failure_at: entry.lastFailureAt } : {}),
    }));
  }

  isFailing(provider: string): boolean {
    return (this.entries.get(provider)?.failures ?? 0) >= FAILING_AFTER;
  }
}
