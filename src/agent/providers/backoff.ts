export interface BackoffPolicy {
  /** Delay before the first retry, before jitter. */
  baseMs: number;
  /** Upper bound for the exponential part. */
  capMs: number;
  /** Injectable for deterministic tests; defaults to Math.random. */
  random: () => number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, capMs: 8000, random: Math.random };

/**
 * Exponential backoff with "equal jitter" (half fixed, half random) so that many runs failing
 * together do not retry in lockstep. A server-provided Retry-After wins: it knows better.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return retryAfterMs;
  const exponential = Math.min(policy.capMs, policy.baseMs * 2 ** attempt);
  return exponential / 2 + (policy.random() * exponential) / 2;
}
