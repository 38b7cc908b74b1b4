/**
 * The model-provider contract the agent loop depends on. Providers translate this neutral shape
 * to and from a wire protocol (OpenAI Chat Completions, Anthropic Messages, the offline demo).
 */

export interface ToolSpec {
  /** Wire-safe name (letters, digits, `_`, `-`); the registry maps dotted names to it. */
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

export interface ToolCallRequest {
  id: string;
  name: string;
  /** Raw JSON text of the arguments as the model produced it (may be invalid JSON). */
  arguments: string;
}

export type ContentPart = { type: 'text'; text: string } | { type: 'image'; mediaType: string; dataBase64: string };

export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | ContentPart[] }
  | { role: 'assistant'; content: string; toolCalls?: ToolCallRequest[]; reasoning?: string }
  | {
      role: 'tool';
      toolCallId: string;
      name: string;
      content: string;
      /** Images the tool returned; sent after the turn's tool results as a user message (see expandToolImages). */
      images?: Array<{ mediaType: string; dataBase64: string }>;
    };

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface ModelRequest {
  messages: ChatMessage[];
  tools: ToolSpec[];
  signal: AbortSignal;
  maxOutputTokens?: number;
}

/** What a provider yields while streaming one model turn. */
export type ModelStreamEvent =
  | { type: 'text'; text: string }
  | { type: 'reasoning'; text: string }
  | { type: 'tool_call'; call: ToolCallRequest }
  | { type: 'usage'; usage: Usage }
  | { type: 'finish'; reason: 'stop' | 'tool_calls' | 'length' | 'other' }
  /** The chain is waiting to retry a failed attempt (nothing of this turn was streamed yet). */
  | { type: 'retry'; provider: string; attempt: number; delayMs: number; reason: string; status?: number }
  /** The chain gave up on a provider and moves to the next one. */
  | { type: 'fallback'; from: string; to: string; reason: string };

export interface ModelProvider {
  /** Config name (e.g. `spark`, `openai`, `offline`). */
  readonly name: string;
  readonly model: string;
  readonly supportsVision: boolean;
  readonly contextWindow: number;
  /** The turn's events, in order, in batches: one per network read, so a burst of tokens moves through the loop at once. */
  stream(request: ModelRequest): AsyncIterable<ModelStreamEvent[]>;
}

/**
 * A provider failure. `retryable` covers 429, 5xx, timeouts and connection errors; `started`
 * is true once any output was yielded, after which the turn can no longer be retried silently.
 */
export class ModelError extends Error {
  constructor(
    message: string,
    readonly options: { status?: number; retryable: boolean; started?: boolean; retryAfterMs?: number; provider?: string },
  ) {
    super(message);
    this.name = 'ModelError';
  }
}
