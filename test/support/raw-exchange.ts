import { connect } from 'node:net';

export interface Exchange {
  /** 0 when no answer arrived (the request was abandoned, or the server closed without one). */
  status: number;
  headers: Record<string, string>;
  body: string;
  json: unknown;
  /** The answer was an event stream; it was closed as soon as its head arrived (unless `sseThenHalfCloseMs`). */
  sse: boolean;
  /** Status lines after the first: a server writing a second answer into the first one. */
  extraAnswers: number;
  timedOut: boolean;
}

export interface ExchangeOptions {
  /** End our side right after writing (a client that stops sending mid-body) and wait for an answer. */
  halfClose?: boolean;
  /** Destroy the socket this long after writing, without waiting for an answer. */
  abandonAfterMs?: number;
  /** On an SSE answer, end our side this long after its head and read on until the server closes. */
  sseThenHalfCloseMs?: number;
  timeoutMs?: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Writes bytes exactly as given and reads one answer: up to its Content-Length, or until the
 * server closes; an SSE answer is closed once its head is in, so streams never hold a test up.
 */
export function rawExchange(baseUrl: string, request: Buffer, options: ExchangeOptions = {}): Promise<Exchange> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    let received = Buffer.alloc(0);
    let settled = false;
    let halfClosing: NodeJS.Timeout | undefined;
    const finish = (timedOut = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(halfClosing);
      socket.destroy();
      resolve({ ...parse(received), timedOut });
    };
    const timer = setTimeout(() => finish(true), options.timeoutMs ?? 10_000);
    socket.on('connect', () => {
      socket.write(request);
      if (options.halfClose) socket.end();
      if (options.abandonAfterMs !== undefined) setTimeout(() => finish(), options.abandonAfterMs);
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      const headEnd = received.indexOf(HEAD_END);
      if (headEnd < 0) return;
      const head = parseHead(received.subarray(0, headEnd).toString('latin1'));
      if ((head.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        if (options.sseThenHalfCloseMs === undefined) return finish();
        if (!halfClosing) halfClosing = setTimeout(() => socket.end(), options.sseThenHalfCloseMs);
        return;
      }
      const length = head.headers['content-length'];
      if (length !== undefined && received.length - headEnd - HEAD_END.length >= Number(length)) finish();
    });
    socket.on('error', () => {});
    socket.on('close', () => finish());
  });
}

function parseHead(text: string): { status: number; headers: Record<string, string> } {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0) || 0, headers };
}

function parse(received: Buffer): Omit<Exchange, 'timedOut'> {
  const headEnd = received.indexOf(HEAD_END);
  if (headEnd < 0) return { status: 0, headers: {}, body: '', json: undefined, sse: false, extraAnswers: 0 };
  const extraAnswers = (received.subarray(headEnd).toString('latin1').match(/HTTP\/1\.[01] \d{3} /g) ?? []).length;
  const { status, headers } = parseHead(received.subarray(0, headEnd).toString('latin1'));
  let payload = received.subarray(headEnd + HEAD_END.length);
  if (headers['transfer-encoding'] === 'chunked') payload = dechunk(payload);
  const body = payload.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status, headers, body, json, sse: (headers['content-type'] ?? '').startsWith('text/event-stream'), extraAnswers };
}

function dechunk(payload: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < payload.length) {
    const lineEnd = payload.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const size = Number.parseInt(payload.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(payload.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
