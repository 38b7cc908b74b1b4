import type { LookupFunction } from 'node:net';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { VERSION } from '../version.js';
import { ToolInputError } from './errors.js';
import type { Tool, ToolResult } from './types.js';
import { AddressGuard } from './web/address-guard.js';
import { contentKindOf, decodeBody, parseContentType, sniffKind, type ContentKind } from './web/content-type.js';
import { assertFetchableUrl, guardedGet, type GuardedResponse } from './web/guarded-get.js';

/** JSON up to this size is re-indented for readability; larger documents are passed through as sent. */
const PRETTY_JSON_MAX_CHARS = 100_000;

const webFetchSchema = z.object({
  url: z.string().min(1).max(8192).describe('Absolute http:// or https:// URL of the page or document to fetch.'),
});

export type WebFetchArgs = z.infer<typeof webFetchSchema>;

export interface WebFetchOptions {
  config: Config['tools']['web_fetch'];
  /** Test seam: a resolver used at connect time; its answers still go through the address check. */
  lookup?: LookupFunction;
}

export function createWebFetchTool(options: WebFetchOptions): Tool<WebFetchArgs> {
  const { config } = options;
  const guard = new AddressGuard(config.allow_hosts);
  return {
    name: 'web_fetch',
    description:
      'Fetch a web page or document over http(s) and return it as readable text: HTML pages become Markdown ' +
      '(title and main content, links kept), JSON and plain text are returned as they are. Images, PDFs and other ' +
      'binary content are refused. Only public internet addresses can be reached.',
    inputSchema: webFetchSchema,
    defaultPolicy: 'allow',
    usesWorkspace: false,
    risk: () => 'low',
    describe: (args) => ({ operation: 'web_fetch', description: `Fetch ${args.url}` }),
    execute: async (args, ctx) => {
      const url = parseUrl(args.url);
      const deadline = AbortSignal.timeout(config.timeout_s * 1000);
      let response: GuardedResponse;
      try {
        response = await guardedGet(url, {
          guard,
          maxBytes: config.max_bytes,
          maxRedirects: config.max_redirects,
          signal: AbortSignal.any([ctx.signal, deadline]),
          headers: {
            'user-agent': `TokenDance/${VERSION} (web_fetch)`,
            accept: 'text/html,application/xhtml+xml,application/json;q=0.9,text/*;q=0.8,*/*;q=0.1',
            'accept-encoding': 'gzip, deflate, br',
          },
          // Refused on the headers alone, before any of an image or PDF body is downloaded.
          checkHeaders: (head, at) => {
            const header = head.headers['content-type'] ?? '';
            refuseUnsupported(contentKindOf(parseContentType(header).mediaType), header, at);
          },
          ...(options.lookup ? { lookup: options.lookup } : {}),
        });
      } catch (error) {
        if (deadline.aborted && !ctx.signal.aborted) {
          throw new ToolInputError(`Fetching ${url.href} took longer than ${config.timeout_s}s (tools.web_fetch.timeout_s) and was aborted.`);
        }
        throw error;
      }
      return renderResponse(response, config.max_bytes);
    },
  };
}

function parseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ToolInputError(`"${raw.slice(0, 200)}" is not a valid absolute URL; give one like https://example.com/page.`);
  }
  assertFetchableUrl(url);
  return url;
}

function refuseUnsupported(kind: ContentKind | undefined, header: string, url: URL): void {
  if (kind !== 'unsupported') return;
  throw new ToolInputError(
    `${url.href} returned content of type ${parseContentType(header).mediaType || header}, which web_fetch cannot turn into text ` +
      '(it reads HTML, JSON and text/* content). Images, PDFs and other binary files are not supported.',
  );
}

async function renderResponse(response: GuardedResponse, maxBytes: number): Promise<ToolResult> {
  const contentType = parseContentType(response.contentType);
  const kind = contentKindOf(contentType.mediaType) ?? sniffKind(response.body);
  refuseUnsupported(kind, response.contentType || 'unknown (binary data, no Content-Type)', response.url);

  const text = decodeBody(response.body, contentType.charset, kind);
  const lines: string[] = [];
  const ok = response.status >= 200 && response.status < 300;
  if (!ok) lines.push(`HTTP ${response.status} ${response.statusText}`.trim());
  if (kind === 'html') {
    // Loaded on first use: the HTML toolchain (linkedom, Readability, Turndown) is ~20 MB of a server's memory.
    const { htmlToMarkdown } = await import('./web/html-to-markdown.js');
    const page = htmlToMarkdown(text, response.url);
    if (page.title) lines.push(`# ${page.title}`);
    lines.push(`URL: ${response.url.href}`, '', page.markdown || '[the page has no readable text; it may build its content with JavaScript]');
  } else {
    lines.push(`URL: ${response.url.href}`, `Content-Type: ${contentType.mediaType || 'text/plain (sniffed)'}`, '', kind === 'json' && !response.truncated ? prettyJson(text) : text);
  }
  if (response.truncated) {
    lines.push('', `[truncated: the response is larger than ${maxBytes} bytes (tools.web_fetch.max_bytes); only the first ${maxBytes} bytes were read]`);
  }
  return { success: ok, output: lines.join('\n') };
}

function prettyJson(text: string): string {
  if (text.length > PRETTY_JSON_MAX_CHARS) return text;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
