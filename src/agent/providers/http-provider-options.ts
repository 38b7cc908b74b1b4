/** Resolved settings for a network-backed provider (from-config.ts derives these from ProviderConfig). */
export interface HttpProviderOptions {
  /** Config name, e.g. `spark`; prefixes every error message. */
  name: string;
  model: string;
  /** For OpenAI-compatible: up to and including `/v1`. For Anthropic: the origin (no `/v1`). */
  baseUrl: string;
  /** Omitted for local servers that need no key: then no auth header is sent. */
  apiKey?: string;
  /** Idle timeout: fail (retryably) when no bytes arrive for this long. */
  requestTimeoutMs: number;
  contextWindow: number;
  supportsVision: boolean;
}

export function joinUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}
