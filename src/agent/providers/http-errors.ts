import { ModelError } from './types.js';

/** Statuses worth retrying: timeouts, lock conflicts, rate limits and server-side failures (incl. Anthropic's 529). */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * Reads `retry-after-ms` (OpenAI) or `retry-after` (seconds or an HTTP date). Returns undefined
 * when absent or unparseable so the caller falls back to its own backoff.
 */
export function parseRetryAfter(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Pulls a human-readable message out of the usual `{error:{message}}` / `{message}` error bodies. */
export function errorMessageFromBody(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return '(empty body)';
  try {
    const parsed: unknown = JSON.parse(trimmed);
    const message = messageOf(parsed);
    if (message) return message;
  } catch {
    // Not JSON (an HTML error page from a proxy, say): fall through to the raw text.
  }
  return trimmed.length > 500 ? `${trimmed.slice(0, 500)}…` : trimmed;
}

function messageOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const error = record.error;
  if (typeof error === 'string') return error;
  if (typeof error === 'object' && error !== null) {
    const inner = error as Record<string, unknown>;
    const type = typeof inner.type === 'string' ? `${inner.type}: ` : '';
    if (typeof inner.message === 'string') return `${type}${inner.message}`;
  }
  if (typeof record.message === 'string') return record.message;
  return undefined;
}

/** Turns a non-2xx response into a ModelError; reads at most a small prefix of the body. */
export async function modelErrorFromResponse(provider: string, response: { status: number; headers: Headers; text(): Promise<string> }): Promise<ModelError> {
  let text = '';
  try {
    text = (await response.text()).slice(0, 4000);
  } catch {
    // The body may be cut; the status alone still classifies the failure.
  }
  const retryAfterMs = parseRetryAfter(response.headers);
  return new ModelError(`${provider}: HTTP ${response.status}: ${errorMessageFromBody(text)}`, {
    status: response.status,
    retryable: isRetryableStatus(response.status),
    provider,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}
