import { abortReason, isAbortError, sleep as abortableSleep } from './abort.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import type { ProviderHealth } from './health.js';
import {
  ModelError,
  type ChatMessage,
  type ModelProvider,
  type ModelRequest,
  type ModelStreamEvent,
} from './types.js';

export interface ResilientEntry {
  provider: ModelProvider;
  /** Total time budget for retrying this provider before moving to the next (config `max_retry_s`). */
  maxRetryMs: number;
}

export interface ResilientOptions {
  backoff?: Partial<BackoffPolicy>;
  /** Injectable so tests can observe delays without waiting for them. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Records each attempt's outcome for /api/health. */
  health?: ProviderHealth;
}

/**
 * The provider the agent loop talks to: tries [default, ...fallback] in order, retrying each
 * with backoff while failures are retryable and nothing has been streamed yet. Once output has
 * reached the caller a failure is final, because replaying the turn would duplicate deltas.
 */
export class ResilientModel implements ModelProvider {
  readonly name: string;
  readonly model: string;
  readonly supportsVision: boolean;
  /** The smallest window in the chain, so context packing never overflows a fallback. */
  readonly contextWindow: number;
  /** Name of the provider that produced the most recent (or current) stream's output. */
  lastProviderName: string | undefined;

  private readonly backoff: BackoffPolicy;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly now: () => number;
  private readonly log: (message: string, fields?: Record<string, unknown>) => void;
  private readonly health: ProviderHealth | undefined;

  constructor(
    private readonly entries: ResilientEntry[],
    options: ResilientOptions = {},
  ) {
    const primary = entries[0]?.provider;
    if (!primary) throw new Error('ResilientModel needs at least one provider');
    this.name = primary.name;
    this.model = primary.model;
    this.supportsVision = primary.supportsVision;
    this.contextWindow = Math.min(...entries.map((entry) => entry.provider.contextWindow));
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.sleep = options.sleep ?? abortableSleep;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
    this.health = options.health;
  }

  get providerNames(): string[] {
    return this.entries.map((entry) => entry.provider.name);
  }

  async *stream(request: ModelRequest): AsyncGenerator<ModelStreamEvent[]> {
    const failures: string[] = [];
    for (const [position, entry] of this.entries.entries()) {
      const failure = yield* this.streamWithRetries(entry, request);
      if (failure === undefined) return;
      failures.push(failure);
      const next = this.entries[position + 1];
      if (next) {
        this.log(`model provider ${entry.provider.name} failed (${failure}); falling back to ${next.provider.name}`, { provider: entry.provider.name, fallback: next.provider.name });
        yield [{ type: 'fallback', from: entry.provider.name, to: next.provider.name, reason: failure }];
      }
    }
    throw new ModelError(`All model providers failed: ${failures.join('; ')}`, { retryable: false });
  }

  /** Streams from one provider; returns undefined on success or the reason it gave up. */
  private async *streamWithRetries(entry: ResilientEntry, request: ModelRequest): AsyncGenerator<ModelStreamEvent[], string | undefined> {
    const { provider } = entry;
    const providerRequest = provider.supportsVision ? request : { ...request, messages: withoutImages(request.messages) };
    const startedAt = this.now();
    for (let attempt = 0; ; attempt += 1) {
      let yielded = false;
      try {
        for await (const batch of provider.stream(providerRequest)) {
          if (batch.length === 0) continue;
          if (!yielded) {
            this.lastProviderName = provider.name;
            this.health?.succeeded(provider.name);
          }
          yielded = true;
          yield batch;
        }
        if (!yielded) this.health?.succeeded(provider.name);
        return undefined;
      } catch (error) {
        if (request.signal.aborted) throw abortReason(request.signal);
        if (isAbortError(error)) throw error;
        const failure = asModelError(provider.name, error);
        this.health?.failed(provider.name, failure.message);
        if (yielded || failure.options.started) {
          throw new ModelError(`${failure.message} (the response was already streaming, so it was not retried)`, {
            ...failure.options,
            retryable: false,
            started: true,
            provider: provider.name,
          });
        }
        if (!failure.options.retryable) return failure.message;
        const delay = backoffDelay(attempt, this.backoff, failure.options.retryAfterMs);
        if (this.now() - startedAt + delay > entry.maxRetryMs) {
          return `${failure.message} (gave up after ${attempt + 1} attempt${attempt === 0 ? '' : 's'})`;
        }
        this.log(`model provider ${provider.name}: ${failure.message}; retry ${attempt + 1} in ${Math.round(delay)} ms`, {
          provider: provider.name,
          status: failure.options.status,
          attempt: attempt + 1,
          delay_ms: Math.round(delay),
        });
        yield [{ type: 'retry', provider: provider.name, attempt: attempt + 1, delayMs: Math.round(delay), reason: failure.message, ...(failure.options.status ? { status: failure.options.status } : {}) }];
        await this.sleep(delay, request.signal);
      }
    }
  }
}

/** Anything a provider throws that is not a ModelError is a bug or unknown failure: do not retry it. */
function asModelError(provider: string, error: unknown): ModelError {
  if (error instanceof ModelError) {
    return error.message.startsWith(`${provider}:`)
      ? error
      : new ModelError(`${provider}: ${error.message}`, { ...error.options, provider });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ModelError(`${provider}: ${message}`, { retryable: false, provider });
}

/** A fallback without vision would reject image parts outright; a placeholder keeps the turn going. */
function withoutImages(messages: ChatMessage[]): ChatMessage[] {
  return messages.map((message) => {
    if (message.role !== 'user' || typeof message.content === 'string') return message;
    if (!message.content.some((part) => part.type === 'image')) return message;
    return {
      role: 'user',
      content: message.content.map((part) =>
        part.type === 'image' ? { type: 'text' as const, text: `[image omitted: this model cannot read images]` } : part,
      ),
    };
  });
}
