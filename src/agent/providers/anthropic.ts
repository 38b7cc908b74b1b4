import type { EventSourceMessage } from 'eventsource-parser';
import { toAnthropicRequest, type AnthropicStreamEvent, type AnthropicUsage } from './anthropic-wire.js';
import { joinUrl } from './http-provider-options.js';
import { streamServerSentEvents } from './sse-request.js';
import { foldServerSentEvents, HttpStreamingProvider } from './http-provider.js';
import { ModelError, type ModelRequest, type ModelStreamEvent, type Usage } from './types.js';

type FinishReason = Extract<ModelStreamEvent, { type: 'finish' }>['reason'];

export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';
const ANTHROPIC_VERSION = '2023-06-01';

/** Streaming client for the Anthropic Messages API. */
export class AnthropicProvider extends HttpStreamingProvider {
  protected streamTurn(request: ModelRequest): AsyncIterable<ModelStreamEvent[]> {
    const headers: Record<string, string> = { 'anthropic-version': ANTHROPIC_VERSION };
    if (this.options.apiKey) headers['x-api-key'] = this.options.apiKey;
    const sse = streamServerSentEvents({
      provider: this.name,
      url: joinUrl(this.options.baseUrl, 'v1/messages'),
      headers,
      body: toAnthropicRequest(this.model, request),
      signal: request.signal,
      idleTimeoutMs: this.options.requestTimeoutMs,
    });
    const turn = new AnthropicTurn(this.name);
    return foldServerSentEvents(
      sse,
      (message, events) => {
        turn.accept(parseEvent(this.name, message), events);
        return turn.done;
      },
      () => {
        throw new ModelError(`${this.name}: stream ended before message_stop (connection cut?)`, {
          retryable: true,
          provider: this.name,
        });
      },
    );
  }
}

interface OpenBlock {
  type: string;
  id: string;
  name: string;
  json: string;
}

/** Folds the Messages event sequence into neutral events; tool inputs are buffered per block index. */
class AnthropicTurn {
  done = false;
  private readonly blocks = new Map<number, OpenBlock>();
  private usage: Usage = { inputTokens: 0, outputTokens: 0 };
  private stopReason: FinishReason = 'stop';

  constructor(private readonly provider: string) {}

  accept(event: AnthropicStreamEvent, events: ModelStreamEvent[]): void {
    switch (event.type) {
      case 'message_start':
        this.addUsage(event.message?.usage);
        return;
      case 'content_block_start': {
        const block = event.content_block ?? {};
        this.blocks.set(event.index ?? 0, { type: block.type ?? '', id: block.id ?? '', name: block.name ?? '', json: '' });
        if (block.type === 'text' && block.text) events.push({ type: 'text', text: block.text });
        if (block.type === 'thinking' && block.thinking) events.push({ type: 'reasoning', text: block.thinking });
        return;
      }
      case 'content_block_delta':
        this.acceptDelta(event, events);
        return;
      case 'content_block_stop': {
        const index = event.index ?? 0;
        const block = this.blocks.get(index);
        this.blocks.delete(index);
        if (block?.type === 'tool_use') {
          events.push({
            type: 'tool_call',
            call: { id: block.id, name: block.name, arguments: block.json.trim() === '' ? '{}' : block.json },
          });
        }
        return;
      }
      case 'message_delta':
        if (event.delta?.stop_reason) this.stopReason = mapStopReason(event.delta.stop_reason);
        this.addUsage(event.usage);
        return;
      case 'message_stop':
        this.done = true;
        events.push({ type: 'usage', usage: this.usage });
        events.push({ type: 'finish', reason: this.stopReason });
        return;
      case 'error':
        throw streamError(this.provider, event);
      default:
        // ping and event types added to the API later carry nothing we need.
        return;
    }
  }

  private acceptDelta(event: AnthropicStreamEvent, events: ModelStreamEvent[]): void {
    const delta = event.delta ?? {};
    switch (delta.type) {
      case 'text_delta':
        if (delta.text) events.push({ type: 'text', text: delta.text });
        return;
      case 'thinking_delta':
        if (delta.thinking) events.push({ type: 'reasoning', text: delta.thinking });
        return;
      case 'input_json_delta': {
        const block = this.blocks.get(event.index ?? 0);
        if (block && delta.partial_json) block.json += delta.partial_json;
        return;
      }
      default:
        // signature_delta, citations_delta: needed only to replay thinking/citations, which we don't.
        return;
    }
  }

  /** message_start carries input tokens; message_delta carries the cumulative output count (and sometimes input). */
  private addUsage(usage: AnthropicUsage | undefined): void {
    if (!usage) return;
    const input =
      usage.input_tokens !== undefined
        ? usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0)
        : undefined;
    if (input !== undefined && input > 0) this.usage.inputTokens = input;
    if (usage.output_tokens !== undefined) this.usage.outputTokens = usage.output_tokens;
  }
}

const RETRYABLE_ERROR_TYPES = new Set(['overloaded_error', 'api_error', 'rate_limit_error', 'timeout_error']);

function streamError(provider: string, event: AnthropicStreamEvent): ModelError {
  const type = event.error?.type ?? 'unknown_error';
  return new ModelError(`${provider}: stream error (${type}): ${event.error?.message ?? 'no message'}`, {
    retryable: RETRYABLE_ERROR_TYPES.has(type),
    provider,
  });
}

function parseEvent(provider: string, message: EventSourceMessage): AnthropicStreamEvent {
  try {
    const parsed: unknown = JSON.parse(message.data);
    if (typeof parsed === 'object' && parsed !== null) {
      const event = parsed as AnthropicStreamEvent;
      // The `event:` line and the data's `type` agree on the real API; trust whichever is present.
      return event.type ? event : { ...event, type: message.event };
    }
  } catch {
    // Reported below with the offending text.
  }
  throw new ModelError(`${provider}: malformed stream event: ${message.data.slice(0, 200)}`, {
    retryable: false,
    provider,
  });
}

function mapStopReason(reason: string): FinishReason {
  switch (reason) {
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'tool_use':
      return 'tool_calls';
    case 'max_tokens':
      return 'length';
    default:
      return 'other';
  }
}
