import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { pipeline, type Readable } from 'node:stream';
import { createBrotliDecompress, createUnzip } from 'node:zlib';
import { ToolInputError } from '../errors.js';
import { blockedAddressOf, type AddressGuard } from './address-guard.js';

export interface GuardedGetOptions {
  guard: AddressGuard;
  maxBytes: number;
  maxRedirects: number;
  /** Aborts the whole fetch, every hop and the body included. */
  signal: AbortSignal;
  headers: Record<string, string>;
  /** Called with the final response's headers before its body is read; throw to refuse it. */
  checkHeaders?(response: IncomingMessage, url: URL): void;
  /** Resolver used at connect time (its answers are still checked); tests use it to fake DNS. */
  lookup?: LookupFunction;
}

export interface GuardedResponse {
  /** The URL that answered, after redirects. */
  url: URL;
  status: number;
  statusText: string;
  contentType: string;
  /** Decoded (decompressed) body, at most `maxBytes`. */
  body: Buffer;
  /** The body was longer than `maxBytes` and reading stopped there. */
  truncated: boolean;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * GET with redirects followed by hand, so every hop goes through the address guard: scheme and
 * credentials are checked on each URL, and the connect-time address check runs on each connection.
 */
export async function guardedGet(start: URL, options: GuardedGetOptions): Promise<GuardedResponse> {
  let url = start;
  for (let redirects = 0; ; redirects++) {
    assertFetchableUrl(url);
    const response = await openRequest(url, options);
    const location = response.headers.location;
    if (REDIRECT_STATUSES.has(response.statusCode ?? 0) && location) {
      response.destroy();
      if (redirects >= options.maxRedirects) {
        throw new ToolInputError(`${start.href} redirected more than ${options.maxRedirects} times (tools.web_fetch.max_redirects); stopped at ${url.href}.`);
      }
      url = resolveRedirect(location, url);
      continue;
    }
    try {
      options.checkHeaders?.(response, url);
      const { body, truncated } = await readCapped(response, options.maxBytes).catch((error: unknown) => {
        if (options.signal.aborted) throw abortReason(options.signal);
        if (error instanceof ToolInputError) throw error;
        throw new ToolInputError(`Reading the response from ${url.host} failed: ${(error as Error).message}`);
      });
      return {
        url,
        status: response.statusCode ?? 0,
        statusText: response.statusMessage ?? '',
        contentType: response.headers['content-type'] ?? '',
        body,
        truncated,
      };
    } finally {
      response.destroy();
    }
  }
}

/** Only http(s), and never credentials: a URL the model writes must not carry secrets to a host. */
export function assertFetchableUrl(url: URL): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ToolInputError(`Only http and https URLs can be fetched, not ${url.protocol.replace(/:$/, '')}: (${url.href}).`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ToolInputError('URLs with credentials (user:password@host) are refused.');
  }
}

function resolveRedirect(location: string, from: URL): URL {
  try {
    return new URL(location, from);
  } catch {
    throw new ToolInputError(`${from.href} redirected to an invalid URL: ${location.slice(0, 200)}`);
  }
}

function openRequest(url: URL, options: GuardedGetOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, {
      method: 'GET',
      agent: options.guard.agentFor(url),
      headers: options.headers,
      signal: options.signal,
      ...(options.lookup ? { lookup: options.lookup } : {}),
    });
    request.once('response', resolve);
    request.once('error', (error) => reject(describeRequestError(error, url, options.signal)));
    request.end();
  });
}

function describeRequestError(error: Error, url: URL, signal: AbortSignal): Error {
  if (signal.aborted) return abortReason(signal);
  const blocked = blockedAddressOf(error);
  if (blocked !== undefined) {
    return new ToolInputError(
      `Refused to fetch ${url.href}: ${url.hostname} is or resolves to ${blocked}, a loopback, private, link-local ` +
        'or otherwise non-public address (SSRF protection). Only public internet addresses can be fetched; ' +
        'an operator can exempt a host with tools.web_fetch.allow_hosts.',
    );
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ToolInputError(`Could not resolve the host name ${url.hostname}.`);
  if (code === 'ECONNREFUSED') return new ToolInputError(`${url.host} refused the connection.`);
  return new ToolInputError(`Could not fetch ${url.href}: ${error.message}`);
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? 'aborted'));
}

/** Reads the decompressed body up to `maxBytes`; a compressed bomb stops at the cap like any other body. */
async function readCapped(response: IncomingMessage, maxBytes: number): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let total = 0;
  let truncated = false;
  const decoded = decode(response);
  try {
    for await (const chunk of decoded as AsyncIterable<Buffer>) {
      if (total + chunk.length > maxBytes) {
        chunks.push(chunk.subarray(0, maxBytes - total));
        total = maxBytes;
        truncated = true;
        break;
      }
      chunks.push(chunk);
      total += chunk.length;
    }
  } finally {
    decoded.destroy();
  }
  return { body: Buffer.concat(chunks, total), truncated };
}

function decode(response: IncomingMessage): Readable {
  const encoding = String(response.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return response;
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip' || encoding === 'deflate'
      ? createUnzip()
      : encoding === 'br'
        ? createBrotliDecompress()
        : undefined;
  if (!decoder) throw new ToolInputError(`The response uses an unsupported content encoding (${encoding.slice(0, 50)}).`);
  // pipeline tears both streams down when either fails or the reader stops early.
  return pipeline(response, decoder, () => {});
}
