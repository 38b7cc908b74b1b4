/** How web_fetch turns a body into text, decided from the Content-Type header. */
export type ContentKind = 'html' | 'json' | 'text' | 'unsupported';

export interface ParsedContentType {
  /** Lower-case `type/subtype`, '' when the header is missing. */
  mediaType: string;
  charset?: string;
}

export function parseContentType(header: string): ParsedContentType {
  const [type = '', ...parameters] = header.split(';');
  const charset = parameters
    .map((parameter) => /^\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(parameter)?.[1])
    .find((value) => value !== undefined);
  return { mediaType: type.trim().toLowerCase(), ...(charset ? { charset: charset.toLowerCase() } : {}) };
}

/** Textual types besides text/*: data and markup formats a model can read as they are. */
const TEXTUAL_APPLICATION_TYPES = new Set([
  'application/xml',
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/yaml',
  'application/x-yaml',
  'application/toml',
  'application/x-ndjson',
  'application/sql',
  'application/graphql',
]);

/** A missing header is decided later by sniffing the body (see `sniffKind`). */
export function contentKindOf(mediaType: string): ContentKind | undefined {
  if (mediaType === '') return undefined;
  if (mediaType === 'text/html' || mediaType === 'application/xhtml+xml') return 'html';
  if (mediaType === 'application/json' || mediaType.endsWith('+json')) return 'json';
  if (mediaType.startsWith('text/') || mediaType.endsWith('+xml') || TEXTUAL_APPLICATION_TYPES.has(mediaType)) return 'text';
  return 'unsupported';
}

/** For responses without a Content-Type: HTML if it looks like HTML, text unless it has NUL bytes. */
export function sniffKind(body: Buffer): ContentKind {
  const head = body.subarray(0, 1024);
  if (head.includes(0)) return 'unsupported';
  const start = head.toString('latin1').trimStart().toLowerCase();
  if (start.startsWith('<!doctype html') || start.startsWith('<html') || /<(head|body|title)[\s>]/.test(start)) return 'html';
  return 'text';
}

/**
 * Decodes with the header's charset, else (for HTML) a `<meta charset>` in the first 1 KiB, else
 * UTF-8. Unknown labels fall back to UTF-8 rather than failing the fetch.
 */
export function decodeBody(body: Buffer, charset: string | undefined, kind: ContentKind): string {
  const label = charset ?? (kind === 'html' ? metaCharset(body) : undefined) ?? 'utf-8';
  try {
    return new TextDecoder(label).decode(body);
  } catch {
    return new TextDecoder('utf-8').decode(body);
  }
}

function metaCharset(body: Buffer): string | undefined {
  const head = body.subarray(0, 1024).toString('latin1');
  return /<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)/i.exec(head)?.[1]?.toLowerCase();
}
