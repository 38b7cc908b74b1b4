/**
 * Loopback HTTP servers for the web tools: target sites for web_fetch (recording every request
 * and every TCP connection, so a test can prove a refused fetch never connected) and fakes of the
 * Tavily, Brave and SearXNG search APIs that speak their real request/response formats and
 * answer 400/401 to anything else.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedHttpRequest {
  method: string;
  /** Path and query as sent. */
  path: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FakeSite {
  host: string;
  port: number;
  /** e.g. "http://127.0.0.2:PORT" or "http://[::1]:PORT". */
  origin: string;
  requests: RecordedHttpRequest[];
  /** TCP connections accepted, whether or not a request followed. */
  connections: number;
  close(): Promise<void>;
}

export type SiteHandler = (request: RecordedHttpRequest, response: ServerResponse) => void;

export async function startSite(host: string, handler: SiteHandler): Promise<FakeSite> {
  const requests: RecordedHttpRequest[] = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const recorded: RecordedHttpRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      url: new URL(req.url ?? '/', 'http://site.invalid'),
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    requests.push(recorded);
    handler(recorded, res);
  });
  const site: FakeSite = {
    host,
    port: 0,
    origin: '',
    requests,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => site.connections++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  site.port = (server.address() as AddressInfo).port;
  site.origin = `http://${host.includes(':') ? `[${host}]` : host}:${site.port}`;
  return site;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

/** Tavily `POST /search`, Bearer auth, JSON body `{query, max_results, ...}`. */
export function startFakeTavily(apiKey: string): Promise<FakeSite> {
  return startSite('127.0.0.1', (request, response) => {
    if (request.method !== 'POST' || request.url.pathname !== '/search') return sendJson(response, 404, { detail: { error: 'Not Found' } });
    if (request.headers.authorization !== `Bearer ${apiKey}`) return sendJson(response, 401, { detail: { error: 'Unauthorized: missing or invalid API key.' } });
    let body: { query?: unknown; max_results?: unknown };
    try {
      body = JSON.parse(request.body);
    } catch {
      return sendJson(response, 400, { detail: { error: 'Invalid JSON' } });
    }
    if (typeof body.query !== 'string') return sendJson(response, 400, { detail: { error: 'query is required' } });
    const count = Math.min(Number(body.max_results ?? 5), 4);
    sendJson(response, 200, {
      query: body.query,
      answer: `Tavily's short answer about ${body.query}.`,
      images: [],
      results: Array.from({ length: count }, (_, index) => ({
        title: `Tavily result ${index + 1} for ${body.query}`,
        url: `https://example.com/tavily/${index + 1}`,
        content: `Snippet ${index + 1} from Tavily.`,
        score: 0.9 - index / 10,
        raw_content: null,
      })),
      response_time: 0.42,
    });
  });
}

/** Brave `GET /res/v1/web/search?q=&count=`, X-Subscription-Token auth. */
export function startFakeBrave(apiKey: string): Promise<FakeSite> {
  return startSite('127.0.0.1', (request, response) => {
    if (request.method !== 'GET' || request.url.pathname !== '/res/v1/web/search') return sendJson(response, 404, { type: 'ErrorResponse', error: { code: 'NOT_FOUND' } });
    if (request.headers['x-subscription-token'] !== apiKey) {
      return sendJson(response, 401, { type: 'ErrorResponse', error: { code: 'SUBSCRIPTION_TOKEN_INVALID', detail: 'The provided subscription token is invalid.', status: 401 } });
    }
    const query = request.url.searchParams.get('q');
    if (!query) return sendJson(response, 422, { type: 'ErrorResponse', error: { code: 'VALIDATION', detail: 'q is required' } });
    const count = Math.min(Number(request.url.searchParams.get('count') ?? 20), 4);
    sendJson(response, 200, {
      type: 'search',
      query: { original: query },
      web: {
        type: 'search',
        results: Array.from({ length: count }, (_, index) => ({
          type: 'search_result',
          title: `Brave result ${index + 1} for ${query}`,
          url: `https://example.org/brave/${index + 1}`,
          description: `A <strong>highlighted</strong> snippet ${index + 1} &amp; more.`,
          language: 'en',
        })),
      },
    });
  });
}

/** SearXNG `GET {prefix}/search?q=&format=json`; no key, no count (always answers 8 results). */
export function startFakeSearxng(prefix = ''): Promise<FakeSite> {
  return startSite('127.0.0.1', (request, response) => {
    if (request.method !== 'GET' || request.url.pathname !== `${prefix}/search`) return sendJson(response, 404, { error: 'not found' });
    if (request.url.searchParams.get('format') !== 'json') {
      response.writeHead(403, { 'content-type': 'text/html' });
      return response.end('<html><body>403 Forbidden</body></html>');
    }
    const query = request.url.searchParams.get('q') ?? '';
    sendJson(response, 200, {
      query,
      number_of_results: 0,
      results: Array.from({ length: 8 }, (_, index) => ({
        url: `https://example.net/searx/${index + 1}`,
        title: `SearXNG result ${index + 1} for ${query}`,
        content: `Content ${index + 1} from the metasearch.`,
        engine: 'duckduckgo',
        engines: ['duckduckgo'],
        score: 1,
        category: 'general',
      })),
      answers: [],
      suggestions: [],
    });
  });
}
