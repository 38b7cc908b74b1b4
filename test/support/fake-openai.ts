/**
 * Scripted fake of the OpenAI Chat Completions streaming API on a loopback port, plus the
 * scaffolding shared with fake-anthropic.ts (turn scripts, request recording, frame pacing).
 *
 * Usage:
 *   const fake = await startFakeOpenAI();          // fake.baseUrl = "http://127.0.0.1:PORT/v1"
 *   fake.enqueue({ text: 'Hello there' }, { toolCalls: [{ name: 'file_write', arguments: { path: 'a' } }] });
 *   ...point an OpenAI-compatible client at fake.baseUrl...
 *   fake.requests[0].body.messages                  // what the client sent
 *   await fake.close();
 *
 * Each POST /v1/chat/completions consumes one queued turn (or `defaultTurn` when the queue is
 * empty, `{ text: 'ok' }` unless configured). Failure turns: `{ status: 500 }`, `{ status: 429,
 * retryAfter: 1 }`, `{ text, cutAfterChunks: 3 }` (socket destroyed), `{ text, endAfterChunks: 3 }`
 * (body ends cleanly but early), `{ text, errorEvent: { message } }`, `{ headerDelayMs: 500 }`.
 *
 * Benchmarks: `{ tokens: 1000, tokenDelayMs: 0 }` streams 1000 text deltas of `tokenText`
 * (default "tok "). With `stampTokens: true` each delta is instead `<t:MS>` where MS is
 * `stampNow()` at the moment the frame is written: epoch milliseconds with microsecond
 * decimals (performance.timeOrigin + performance.now()), comparable across processes on one
 * machine. `parseStamps(text)` extracts them; compare with `stampNow()` on receipt for latency.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { OpenAIChatRequest } from '../../src/agent/providers/openai-wire.js';

export interface FakeToolCall {
  name: string;
  /** An object is JSON-encoded; a string is sent verbatim (to script invalid JSON). */
  arguments: Record<string, unknown> | string;
  id?: string;
}

export interface FakeUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface FakeTurn {
  reasoning?: string;
  text?: string;
  toolCalls?: FakeToolCall[];
  /** Defaults to an estimate: request bytes / 4 in, number of delta frames out. */
  usage?: FakeUsage;
  /** Overrides the finish/stop reason the script would otherwise derive. */
  finishReason?: string;
  /** Benchmark mode: stream this many text deltas instead of `text`. */
  tokens?: number;
  /** Text of each benchmark delta; default "tok ". */
  tokenText?: string;
  /** Replace each benchmark delta with `<t:${stampNow()}>`, taken when the frame is written. */
  stampTokens?: boolean;
  /** Pause before every delta frame (text, reasoning, tool arguments). */
  tokenDelayMs?: number;
  /** Wait before sending response headers (for timeout tests). */
  headerDelayMs?: number;
  /** Answer with this HTTP status and an error body instead of a stream. */
  status?: number;
  /** Error body for `status`; defaults to the provider's usual error JSON. */
  body?: unknown;
  /** Retry-After header (seconds) sent with `status`. */
  retryAfter?: number | string;
  /** Destroy the socket after writing this many SSE frames. */
  cutAfterChunks?: number;
  /** End the response cleanly (as a proxy might) after this many frames, without the closing frames. */
  endAfterChunks?: number;
  /** After the content frames, send a provider error frame and end the response. */
  errorEvent?: { type?: string; message?: string; code?: string | number };
  /** 20 ms after the last frame, write this many characters of SSE comments and keep the response open. */
  trailingChars?: number;
}

export interface RecordedRequest<Body = unknown> {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Body;
}

export interface FakeServerOptions {
  /** Used when the queue is empty; default `{ text: 'ok' }`. */
  defaultTurn?: FakeTurn;
  /** When set, requests without this key get 401 (checks Authorization / x-api-key). */
  apiKey?: string;
  /** Model name echoed in responses; defaults to the requested model. */
  model?: string;
}

export interface FakeServer<Body = unknown> {
  /** Origin, e.g. "http://127.0.0.1:PORT". */
  url: string;
  /** What to configure as the provider's base_url (OpenAI: `${url}/v1`; Anthropic: `url`). */
  baseUrl: string;
  port: number;
  /** Every request received, in order, with its parsed JSON body. */
  requests: Array<RecordedRequest<Body>>;
  enqueue(...turns: FakeTurn[]): void;
  /** Turns still queued. */
  pending(): number;
  setDefaultTurn(turn: FakeTurn): void;
  /** TCP connections accepted so far, and how many of them have closed. */
  connections(): { opened: number; closed: number };
  close(): Promise<void>;
}

/** One SSE frame; `data` may be lazy so timestamps are taken at write time. */
export interface Frame {
  event?: string;
  data: string | (() => string);
  /** Delta frames are paced by `tokenDelayMs`. */
  delta?: boolean;
}

/** What differs between the fakes: the route, the auth header, the error body and the frames. */
export interface FakeProtocol<Body> {
  path: string;
  baseUrl(origin: string): string;
  authorized(headers: IncomingHttpHeaders, apiKey: string): boolean;
  errorBody(status: number): unknown;
  frames(turn: FakeTurn, context: TurnContext<Body>): Frame[];
  errorFrame(error: NonNullable<FakeTurn['errorEvent']>): Frame;
}

export interface TurnContext<Body> {
  body: Body;
  /** 1-based request number, for unique ids. */
  requestNumber: number;
  model: string;
  rawBodyLength: number;
}

export const stampNow = (): string => (performance.timeOrigin + performance.now()).toFixed(3);

export function parseStamps(text: string): number[] {
  return [...text.matchAll(/<t:(\d+(?:\.\d+)?)>/g)].map((match) => Number(match[1]));
}

/** Small deltas like a real model: one word (with its trailing space) at a time. */
export function splitText(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

/** Tool arguments arrive in tiny fragments on the real APIs; ≤ 5 chars exercises reassembly. */
export function splitArguments(json: string, size = 5): string[] {
  const pieces: string[] = [];
  for (let at = 0; at < json.length; at += size) pieces.push(json.slice(at, at + size));
  return pieces;
}

export function argumentsJson(call: FakeToolCall): string {
  return typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
}

/** The text deltas of a turn: benchmark tokens when `tokens` is set, else the words of `text`. */
export function textDeltas(turn: FakeTurn): Array<string | (() => string)> {
  if (turn.tokens === undefined) return splitText(turn.text ?? '');
  const tokenText = turn.tokenText ?? 'tok ';
  return Array.from({ length: turn.tokens }, () => (turn.stampTokens ? () => `<t:${stampNow()}>` : tokenText));
}

export async function startScriptedServer<Body>(
  protocol: FakeProtocol<Body>,
  options: FakeServerOptions = {},
): Promise<FakeServer<Body>> {
  const queue: FakeTurn[] = [];
  const requests: Array<RecordedRequest<Body>> = [];
  let defaultTurn: FakeTurn = options.defaultTurn ?? { text: 'ok' };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(error) } });
      else res.destroy();
    });
  });
  // Longer than any client's idle timeout, as real APIs' are: a pooled connection is closed by the client.
  server.keepAliveTimeout = 60_000;
  const connections = { opened: 0, closed: 0 };
  server.on('connection', (socket) => {
    connections.opened += 1;
    socket.once('close', () => (connections.closed += 1));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'POST' || path !== protocol.path) {
      sendJson(res, 404, { error: { message: `no route for ${req.method} ${path}` } });
      return;
    }
    let body: Body;
    try {
      body = JSON.parse(raw) as Body;
    } catch {
      sendJson(res, 400, protocol.errorBody(400));
      return;
    }
    requests.push({ method: req.method, path, headers: req.headers, body });
    if (options.apiKey !== undefined && !protocol.authorized(req.headers, options.apiKey)) {
      sendJson(res, 401, protocol.errorBody(401));
      return;
    }
    const turn = queue.shift() ?? defaultTurn;
    if (turn.headerDelayMs) await delay(turn.headerDelayMs);
    if (turn.status !== undefined) {
      const headers: Record<string, string> = {};
      if (turn.retryAfter !== undefined) headers['retry-after'] = String(turn.retryAfter);
      sendJson(res, turn.status, turn.body ?? protocol.errorBody(turn.status), headers);
      return;
    }
    const requestedModel = (body as { model?: unknown }).model;
    const context: TurnContext<Body> = {
      body,
      requestNumber: requests.length,
      model: options.model ?? (typeof requestedModel === 'string' ? requestedModel : 'fake-model'),
      rawBodyLength: raw.length,
    };
    const frames = protocol.frames(turn, context);
    if (turn.errorEvent) frames.push(protocol.errorFrame(turn.errorEvent));
    await writeFrames(res, frames, turn);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    baseUrl: protocol.baseUrl(url),
    port,
    requests,
    enqueue: (...turns) => void queue.push(...turns),
    pending: () => queue.length,
    setDefaultTurn: (turn) => {
      defaultTurn = turn;
    },
    connections: () => ({ ...connections }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function writeFrames(res: ServerResponse, frames: Frame[], turn: FakeTurn): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  let written = 0;
  for (const frame of frames) {
    if (res.destroyed) return; // the client went away (abort): stop producing
    if (turn.cutAfterChunks !== undefined && written >= turn.cutAfterChunks) {
      // Let the written frames reach the client, then drop the connection without ending the body.
      await delay(10);
      res.socket?.destroy();
      return;
    }
    if (turn.endAfterChunks !== undefined && written >= turn.endAfterChunks) break;
    if (frame.delta && turn.tokenDelayMs) await delay(turn.tokenDelayMs);
    const data = typeof frame.data === 'function' ? frame.data() : frame.data;
    const text = `${frame.event ? `event: ${frame.event}\n` : ''}data: ${data}\n\n`;
    if (!res.write(text)) await drainOrClose(res);
    written += 1;
  }
  if (turn.trailingChars !== undefined) {
    // Comments a client must ignore, after the end has reached it, then silence: the response never ends on its own.
    await delay(20);
    res.write(`: ${'x'.repeat(Math.max(0, turn.trailingChars - 3))}\n`);
    return;
  }
  res.end();
}

/** Backpressure for large benchmark streams; also settles if the client disconnects meanwhile. */
function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** OpenAI's wire format: `data: {chat.completion.chunk}` frames, a usage chunk, then `data: [DONE]`. */
const openAIProtocol: FakeProtocol<OpenAIChatRequest> = {
  path: '/v1/chat/completions',
  baseUrl: (origin) => `${origin}/v1`,
  authorized: (headers, apiKey) => headers.authorization === `Bearer ${apiKey}`,
  errorBody: (status) => ({
    error: {
      message: status === 429 ? 'Rate limit reached, please retry' : `Fake upstream error ${status}`,
      type: status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'invalid_request_error',
      param: null,
      code: null,
    },
  }),
  errorFrame: (error) =>
    jsonFrame({ error: { message: error.message ?? 'fake stream error', type: error.type ?? 'server_error', code: error.code ?? null } }),
  frames(turn, context) {
    const id = `chatcmpl-fake${context.requestNumber}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: context.model,
      system_fingerprint: 'fp_fake',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    });

    const frames: Frame[] = [jsonFrame(chunk({ role: 'assistant', content: '', refusal: null }))];
    for (const piece of splitText(turn.reasoning ?? '')) frames.push(jsonFrame(chunk({ reasoning_content: piece }), true));
    for (const piece of textDeltas(turn)) {
      frames.push({ delta: true, data: () => JSON.stringify(chunk({ content: typeof piece === 'function' ? piece() : piece })) });
    }
    (turn.toolCalls ?? []).forEach((call, index) => {
      const first = { index, id: call.id ?? `call_fake${context.requestNumber}_${index}`, type: 'function', function: { name: call.name, arguments: '' } };
      frames.push(jsonFrame(chunk({ tool_calls: [first] }), true));
      for (const piece of splitArguments(argumentsJson(call))) {
        frames.push(jsonFrame(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }), true));
      }
    });
    if (turn.errorEvent) return frames; // the error frame replaces the normal ending

    const deltaCount = frames.filter((frame) => frame.delta).length;
    const finishReason = turn.finishReason ?? (turn.toolCalls?.length ? 'tool_calls' : 'stop');
    frames.push(jsonFrame(chunk({}, finishReason)));
    const usage = turn.usage ?? { inputTokens: Math.ceil(context.rawBodyLength / 4), outputTokens: deltaCount };
    frames.push(
      jsonFrame({
        id,
        object: 'chat.completion.chunk',
        created,
        model: context.model,
        system_fingerprint: 'fp_fake',
        choices: [],
        usage: {
          prompt_tokens: usage.inputTokens,
          completion_tokens: usage.outputTokens,
          total_tokens: usage.inputTokens + usage.outputTokens,
        },
      }),
    );
    frames.push({ data: '[DONE]' });
    return frames;
  },
};

export function jsonFrame(value: unknown, delta = false, event?: string): Frame {
  return { data: JSON.stringify(value), delta, ...(event ? { event } : {}) };
}

export function startFakeOpenAI(options: FakeServerOptions = {}): Promise<FakeServer<OpenAIChatRequest>> {
  return startScriptedServer(openAIProtocol, options);
}
