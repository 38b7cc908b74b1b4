import type { EventSourceMessage } from 'eventsource-parser';
import { joinUrl } from './http-provider-options.js';
import { toOpenAIRequest, type OpenAIChunk, type OpenAIToolCallDelta } from './openai-wire.js';
import { streamServerSentEvents } from './sse-request.js';
import { foldServerSentEvents, HttpStreamingProvider } from './http-provider.js';
import {
  ModelError,
  type ModelRequest,
  type ModelStreamEvent,
  type ToolCallRequest,
  type Usage,
} from './types.js';

type FinishReason = Extract<ModelStreamEvent, { type: 'finish' }>['reason'];

/** Streaming client for OpenAI Chat Completions and the many servers that copy it (Spark, DeepSeek, Ollama, vLLM). */
export class OpenAICompatibleProvider extends HttpStreamingProvider {
  protected streamTurn(request: ModelRequest): AsyncIterable<ModelStreamEvent[]> {
    const headers: Record<string, string> = {};
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const sse = streamServerSentEvents({
      provider: this.name,
      url: joinUrl(this.options.baseUrl, 'chat/completions'),
      headers,
      body: toOpenAIRequest(this.model, request),
      signal: request.signal,
      idleTimeoutMs: this.options.requestTimeoutMs,
    });
    const turn = new OpenAITurn(this.name);
    return foldServerSentEvents(
      sse,
      (message, events) => {
        if (message.data.trim() !== '[DONE]') {
          turn.accept(parseChunk(this.name, message), events);
          return false;
        }
        turn.finish(events);
        return true;
      },
      (events) => {
        // Servers that skip `[DONE]` still sent a finish_reason; without either the stream was cut.
        if (!turn.sawFinishReason) {
          throw new ModelError(`${this.name}: stream ended before the model finished (connection cut?)`, {
            retryable: true,
            provider: this.name,
          });
        }
        turn.finish(events);
      },
    );
  }
}

/** Accumulates one streamed turn: tool-call fragments by index, the latest usage, the finish reason. */
class OpenAITurn {
  sawFinishReason = false;
  private finishReason: FinishReason = 'stop';
  private usage: Usage | undefined;
  private readonly pendingCalls = new Map<number, { id: string; name: string; arguments: string }>();
  private emittedCalls = 0;

  constructor(private readonly provider: string) {}

  accept(chunk: OpenAIChunk, events: ModelStreamEvent[]): void {
    throwIfErrorChunk(this.provider, chunk);
    if (chunk.usage) {
      this.usage = { inputTokens: chunk.usage.prompt_tokens ?? 0, outputTokens: chunk.usage.completion_tokens ?? 0 };
    }
    const choice = chunk.choices?.[0];
    if (!choice) return;
    const delta = choice.delta ?? {};
    const reasoning = delta.reasoning_content ?? delta.reasoning;
    if (reasoning) events.push({ type: 'reasoning', text: reasoning });
    if (delta.content) events.push({ type: 'text', text: delta.content });
    if (delta.tool_calls) this.addToolCallDeltas(delta.tool_calls);
    if (choice.finish_reason) {
      this.sawFinishReason = true;
      this.finishReason = mapFinishReason(choice.finish_reason);
      // Calls are complete once the choice finishes; emit them now rather than wait for the usage chunk.
      this.flushToolCalls(events);
    }
  }

  finish(events: ModelStreamEvent[]): void {
    this.flushToolCalls(events);
    if (this.usage) events.push({ type: 'usage', usage: this.usage });
    // Some servers say "stop" even when they called tools; the calls are what the loop must act on.
    const reason = this.emittedCalls > 0 && this.finishReason === 'stop' ? 'tool_calls' : this.finishReason;
    events.push({ type: 'finish', reason });
  }

  private addToolCallDeltas(raw: OpenAIToolCallDelta[] | OpenAIToolCallDelta): void {
    // Spark sends a single object instead of an array; index may be missing when there is only one call.
    const deltas = Array.isArray(raw) ? raw : [raw];
    deltas.forEach((delta, position) => {
      const index = delta.index ?? position;
      let call = this.pendingCalls.get(index);
      if (!call) {
        call = { id: '', name: '', arguments: '' };
        this.pendingCalls.set(index, call);
      }
      if (delta.id) call.id = delta.id;
      // The name arrives once, with the first fragment; some servers repeat it later, so keep the first.
      if (delta.function?.name && call.name === '') call.name = delta.function.name;
      if (delta.function?.arguments) call.arguments += delta.function.arguments;
    });
  }

  private flushToolCalls(events: ModelStreamEvent[]): void {
    const indexes = [...this.pendingCalls.keys()].sort((a, b) => a - b);
    for (const index of indexes) {
      const pending = this.pendingCalls.get(index);
      if (!pending || pending.name === '') continue;
      this.emittedCalls += 1;
      const call: ToolCallRequest = {
        id: pending.id || `call_${index}_${Date.now().toString(36)}`,
        name: pending.name,
        arguments: pending.arguments.trim() === '' ? '{}' : pending.arguments,
      };
      events.push({ type: 'tool_call', call });
    }
    this.pendingCalls.clear();
  }
}

function parseChunk(provider: string, message: EventSourceMessage): OpenAIChunk {
  try {
    const parsed: unknown = JSON.parse(message.data);
    if (typeof parsed === 'object' && parsed !== null) return parsed as OpenAIChunk;
  } catch {
    // Reported below with the offending text.
  }
  throw new ModelError(`${provider}: malformed stream chunk: ${message.data.slice(0, 200)}`, {
    retryable: false,
    provider,
  });
}

function throwIfErrorChunk(provider: string, chunk: OpenAIChunk): void {
  const { error } = chunk;
  if (error !== undefined && error !== null) {
    const detail = typeof error === 'string' ? { message: error } : error;
    const label = [detail.type, detail.code].filter((part) => part !== undefined && part !== null).join('/');
    throw new ModelError(`${provider}: stream error${label ? ` (${label})` : ''}: ${detail.message ?? 'unknown error'}`, {
      retryable: isRetryableErrorDetail(detail.type, detail.code),
      provider,
    });
  }
  if (typeof chunk.code === 'number' && chunk.code !== 0) {
    throw new ModelError(`${provider}: stream error (code ${chunk.code}): ${chunk.message ?? 'unknown error'}`, {
      retryable: false,
      provider,
    });
  }
}

/** Mid-stream errors carry no HTTP status; their type/code says whether trying again can help. */
function isRetryableErrorDetail(type: string | undefined, code: string | number | null | undefined): boolean {
  if (typeof code === 'number') return code === 429 || code >= 500;
  const text = `${type ?? ''} ${code ?? ''}`.toLowerCase();
  return /rate_limit|server_error|overloaded|timeout|unavailable|internal/.test(text);
}

function mapFinishReason(reason: string): FinishReason {
  switch (reason) {
    case 'stop':
      return 'stop';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'length':
      return 'length';
    default:
      return 'other';
  }
}
