import type { z } from 'zod';
import { ToolInputError } from '../../errors.js';

/** Error bodies are quoted to the model this far, enough for a provider's message. */
const ERROR_BODY_CHARS = 300;

/** Joins a path to a base URL that may carry a path of its own (`https://host/searx` + `search`). */
export function endpoint(baseUrl: string, path: string, query: Record<string, string> = {}): URL {
  const url = new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url;
}

/**
 * Calls a search API and validates its JSON answer. The backend is configured by the operator,
 * so it is reached with plain fetch (no SSRF guard: it may well be a SearXNG on the LAN).
 * Failures become messages for the model that name the backend and status, never the key.
 */
export async function requestJson<T>(
  backend: string,
  url: URL,
  init: RequestInit,
  schema: z.ZodType<T>,
  /** Appended to the errors a misconfigured backend causes (HTTP 403, a body that is not JSON). */
  hint = '',
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (init.signal?.aborted) throw init.signal.reason instanceof Error ? init.signal.reason : new Error('aborted');
    const cause = (error as Error & { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new ToolInputError(`The ${backend} search backend at ${url.origin} could not be reached (${cause}).`);
  }
  const text = await response.text();
  if (!response.ok) {
    const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, ERROR_BODY_CHARS);
    throw new ToolInputError(`The ${backend} search backend answered HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''}${response.status === 403 ? hint : ''}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ToolInputError(`The ${backend} search backend sent a response that is not JSON.${hint}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ToolInputError(`The ${backend} search backend sent a response in an unexpected format.`);
  return parsed.data;
}

/** Snippets arrive with markup (Brave's <strong>) and ragged whitespace; the model wants plain lines. */
export function plainText(value: string | null | undefined): string {
  return (value ?? '')
    .replace(/<[^>]*>/g, '')
    .replace(/&(amp|lt|gt|quot|#39|#x27|nbsp);/g, (entity) => ENTITIES[entity] ?? entity)
    .replace(/\s+/g, ' ')
    .trim();
}

const ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&#39;': "'",
  '&#x27;': "'",
  '&nbsp;': ' ',
};
