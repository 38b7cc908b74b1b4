import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { abortReason } from './abort.js';
import { errorMessageFromBody, modelErrorFromResponse } from './http-errors.js';
import { ModelError } from './types.js';

export interface SseRequest {
  /** Provider name, used to prefix error messages. */
  provider: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  /** The caller's cancellation; aborting it rethrows its reason, not a ModelError. */
  signal: AbortSignal;
  /** Fails the request (retryable) when no bytes arrive for this long, before or during the stream. */
  idleTimeoutMs: number;
}

/**
 * POSTs a JSON body and yields the server-sent events of the response, those of one network read
 * together (a burst of tokens then costs one step of each consumer's loop, not one per token). Owns the transport
 * failure semantics shared by every HTTP provider: non-2xx → ModelError (retryable for
 * 408/409/429/5xx, with Retry-After), connection errors and idle timeouts → retryable ModelError,
 * caller abort → the abort reason. Stopping iteration early cancels the HTTP request.
 */
export async function* streamServerSentEvents(request: SseRequest): AsyncGenerator<EventSourceMessage[]> {
  const { provider, signal, idleTimeoutMs } = request;
  if (signal.aborted) throw abortReason(signal);

  const transport = new AbortController();
  let timedOut = false;
  let idleTimer: NodeJS.Timeout | undefined;
  const stopIdleTimer = () => clearTimeout(idleTimer);
  const startIdleTimer = () => {
    stopIdleTimer();
    idleTimer = setTimeout(() => {
      timedOut = true;
      transport.abort();
    }, idleTimeoutMs);
  };
  const onCallerAbort = () => transport.abort(signal.reason);
  signal.addEventListener('abort', onCallerAbort, { once: true });

  const translate = (error: unknown): unknown => {
    if (signal.aborted) return abortReason(signal);
    if (timedOut) {
      return new ModelError(`${provider}: no data received for ${idleTimeoutMs / 1000}s`, { retryable: true, provider });
    }
    if (error instanceof ModelError) return error;
    return new ModelError(`${provider}: connection failed: ${describeNetworkError(error)}`, { retryable: true, provider });
  };

  let bodyRead = false;
  try {
    startIdleTimer();
    let response: Response;
    try {
      response = await fetch(request.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...request.headers },
        body: JSON.stringify(request.body),
        signal: transport.signal,
      });
    } catch (error) {
      throw translate(error);
    }
    if (!response.ok) throw await modelErrorFromResponse(provider, response);
    if (!response.body) throw new ModelError(`${provider}: response has no body`, { retryable: true, provider });
    await rejectNonStreamBody(provider, response);

    let pending: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (event) => pending.push(event) });
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw translate(error);
      }
      if (chunk.done) break;
      parser.feed(decoder.decode(chunk.value, { stream: true }));
      // A slow consumer must not count as a silent server, so the idle clock pauses while we yield.
      stopIdleTimer();
      if (pending.length > 0) {
        const batch = pending;
        pending = [];
        yield batch;
      }
      if (signal.aborted) throw abortReason(signal);
      startIdleTimer();
    }
    parser.feed(decoder.decode());
    if (pending.length > 0) yield pending;
    bodyRead = true;
  } finally {
    stopIdleTimer();
    signal.removeEventListener('abort', onCallerAbort);
    // Releases the socket when the consumer stopped early or we threw mid-body. A body read to
    // its end has released it already, and an abort costs a DOMException with its stack.
    if (!bodyRead) transport.abort();
  }
}

/** Some gateways answer 200 with a JSON error instead of a stream; surface that message. */
async function rejectNonStreamBody(provider: string, response: Response): Promise<void> {
  const contentType = response.headers.get('content-type') ?? '';
  if (!contentType.includes('application/json')) return;
  const text = await response.text();
  throw new ModelError(`${provider}: expected an event stream, got JSON: ${errorMessageFromBody(text)}`, {
    retryable: false,
    provider,
  });
}

/** undici reports "fetch failed" and hides the useful part (ECONNREFUSED, socket closed) in `cause`. */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return `${error.message} (${typeof code === 'string' ? `${code}: ` : ''}${cause.message})`;
  }
  return error.message;
}
