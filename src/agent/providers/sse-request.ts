import { Agent as HttpAgent, type IncomingMessage, type RequestOptions, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { urlToHttpOptions } from 'node:url';
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
 * Kept-alive connections to model servers, shared by every run. An idle one is closed after 4 s
 * (or a second before the server's `Keep-Alive: timeout=` hint): before most servers close it,
 * so a turn rarely goes out on a connection the server is closing at that moment (that fails
 * as a retryable connection error). The timeout never cuts a connection a stream is using.
 */
const IDLE_CONNECTION_MS = 4_000;
const agents = {
  'http:': new HttpAgent({ keepAlive: true, timeout: IDLE_CONNECTION_MS }),
  'https:': new HttpsAgent({ keepAlive: true, timeout: IDLE_CONNECTION_MS }),
};

/**
 * POSTs a JSON body and yields the server-sent events of the response, those of one network read
 * together (a burst of tokens then costs one step of each consumer's loop, not one per token). Owns the transport
 * failure semantics shared by every HTTP provider: non-2xx → ModelError (retryable for
 * 408/409/429/5xx, with Retry-After), connection errors and idle timeouts → retryable ModelError,
 * caller abort → the abort reason. Stopping iteration early cancels the HTTP request.
 *
 * On node:http, not fetch: a relayed token is one network read, and fetch's web streams cost
 * about twice as much CPU per read (bench/RESULTS.md, "Fourth round").
 */
export async function* streamServerSentEvents(request: SseRequest): AsyncGenerator<EventSourceMessage[]> {
  const { provider, signal, idleTimeoutMs } = request;
  if (signal.aborted) throw abortReason(signal);

  const transport = new AbortController();
  let timedOut = false;
  // A slow consumer must not count as a silent server: while it holds a batch the clock only re-arms.
  let consuming = false;
  const idleTimer = setTimeout(function onIdle() {
    if (consuming) return void idleTimer.refresh();
    timedOut = true;
    transport.abort();
  }, idleTimeoutMs);
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
  let failed = false;
  let response: IncomingMessage | undefined;
  try {
    try {
      response = await post(request, transport.signal);
    } catch (error) {
      throw translate(error);
    }
    const status = response.statusCode ?? 0;
    if (status < 200 || status > 299) throw await modelErrorFromResponse(provider, await failure(response, status));
    await rejectNonStreamBody(provider, response);

    let pending: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (event) => pending.push(event) });
    response.setEncoding('utf8');
    try {
      // Not destroyed when the consumer stops at the turn's end: see releaseConnection.
      for await (const text of response.iterator({ destroyOnReturn: false }) as AsyncIterable<string>) {
        idleTimer.refresh();
        parser.feed(text);
        if (pending.length > 0) {
          const batch = pending;
          pending = [];
          consuming = true;
          yield batch;
          consuming = false;
          idleTimer.refresh();
        }
        if (signal.aborted) throw abortReason(signal);
      }
    } catch (error) {
      throw translate(error);
    }
    if (!response.complete) throw translate(new Error('the response ended before its end'));
    bodyRead = true;
    if (pending.length > 0) yield pending;
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    clearTimeout(idleTimer);
    signal.removeEventListener('abort', onCallerAbort);
    // A body read to its end has gone back to the pool already.
    if (!bodyRead) {
      if (response && !failed && !signal.aborted) releaseConnection(response);
      else {
        transport.abort();
        response?.destroy();
      }
    }
  }
}

/** What may still follow the message that ends a turn before its connection is given up. */
const RELEASE_MAX_CHARS = 16 * 1024;
const RELEASE_MAX_MS = 5_000;

/**
 * The consumer stopped reading, normally at the message that ends the turn (`[DONE]`,
 * `message_stop`), when the body's last bytes have not been read yet. Reading them puts the
 * connection back in the pool: destroying it would cost every model turn a new TCP (on real
 * APIs, TLS) connection. A body that goes on past a little more, or for long, is cut.
 */
function releaseConnection(response: IncomingMessage): void {
  if (response.readableEnded || response.destroyed) return;
  let left = RELEASE_MAX_CHARS;
  const cut = setTimeout(() => response.destroy(), RELEASE_MAX_MS);
  cut.unref();
  response.on('data', (chunk: string) => {
    left -= chunk.length;
    if (left < 0) response.destroy();
  });
  response.on('error', () => {});
  response.once('close', () => clearTimeout(cut));
  response.resume();
}

/** A model URL as node:http's options, parsed once per URL (they come from the config: a handful). */
const requestTargets = new Map<string, RequestOptions>();

function requestTarget(url: string): RequestOptions {
  let target = requestTargets.get(url);
  if (!target) {
    target = urlToHttpOptions(new URL(url));
    if (requestTargets.size >= 64) requestTargets.clear();
    requestTargets.set(url, target);
  }
  return target;
}

function post(request: SseRequest, signal: AbortSignal): Promise<IncomingMessage> {
  const target = requestTarget(request.url);
  const { protocol } = target;
  const send = protocol === 'https:' ? httpsRequest : protocol === 'http:' ? httpRequest : undefined;
  if (!send) return Promise.reject(new ModelError(`${request.provider}: unsupported URL scheme ${protocol}`, { retryable: false, provider: request.provider }));
  const body = JSON.stringify(request.body);
  return new Promise((resolve, reject) => {
    const outgoing = send(
      {
        ...target,
        method: 'POST',
        agent: agents[protocol as keyof typeof agents],
        signal,
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...request.headers, 'content-length': Buffer.byteLength(body) },
      },
      resolve,
    );
    outgoing.once('error', reject);
    outgoing.end(body);
  });
}

/** At most this much of an error body is read: the message is in its first few hundred bytes. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** The body's text, up to `limit` bytes (then the connection is dropped); '' when it breaks off. */
async function readText(response: IncomingMessage, limit = MAX_ERROR_BODY_BYTES): Promise<string> {
  let text = '';
  response.setEncoding('utf8');
  try {
    for await (const chunk of response as AsyncIterable<string>) {
      text += chunk;
      if (text.length >= limit) {
        response.destroy();
        break;
      }
    }
  } catch {
    // A cut body: what arrived still names the failure.
  }
  return text;
}

/** What modelErrorFromResponse reads of a failed response. */
async function failure(response: IncomingMessage, status: number): Promise<{ status: number; headers: Headers; text(): Promise<string> }> {
  const text = await readText(response);
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return { status, headers, text: async () => text };
}

/** Some gateways answer 200 with a JSON error instead of a stream; surface that message. */
async function rejectNonStreamBody(provider: string, response: IncomingMessage): Promise<void> {
  const contentType = response.headers['content-type'] ?? '';
  if (!contentType.includes('application/json')) return;
  const text = await readText(response);
  throw new ModelError(`${provider}: expected an event stream, got JSON: ${errorMessageFromBody(text)}`, {
    retryable: false,
    provider,
  });
}

/** node:http's errors carry the reason in their message and `code` (ECONNREFUSED, ECONNRESET: "socket hang up"). */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}
