import { rawExchange } from './raw-exchange.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  json: any;
}

/**
 * Sends bytes exactly as given (fetch would normalise `/./`, `%2e` and friends away) and reads
 * one answer; fails when none arrives in time.
 */
export async function rawRequest(baseUrl: string, request: string | Buffer, timeoutMs = 10_000): Promise<RawResponse> {
  const answer = await rawExchange(baseUrl, Buffer.isBuffer(request) ? request : Buffer.from(request), { timeoutMs });
  if (answer.timedOut) throw new Error(`no complete answer within ${timeoutMs} ms to ${String(request).split('\r\n', 1)[0]}`);
  return { status: answer.status, headers: answer.headers, body: answer.body, json: answer.json };
}

/** A GET with `Connection: close`, optionally with a bearer token. */
export function rawGet(baseUrl: string, path: string, token?: string, extraHeaders = ''): Promise<RawResponse> {
  const auth = token ? `Authorization: Bearer ${token}\r\n` : '';
  return rawRequest(baseUrl, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}${extraHeaders}Connection: close\r\n\r\n`);
}
