/**
 * Scripted fake of the Anthropic Messages streaming API on a loopback port. Same turn scripts,
 * request recording and benchmark options as fake-openai.ts (see the usage notes there).
 *
 *   const fake = await startFakeAnthropic();   // fake.baseUrl = fake.url = "http://127.0.0.1:PORT"
 *   fake.enqueue({ reasoning: 'hmm', text: 'Hi', toolCalls: [{ name: 'file_read', arguments: { path: 'a' } }] });
 *
 * Streams the real event sequence: message_start → per block (content_block_start → [ping after
 * the first] → content_block_delta… → content_block_stop) → message_delta → message_stop. A
 * `reasoning` turn opens with a thinking block (thinking_delta + signature_delta); tool calls are
 * tool_use blocks whose input arrives as input_json_delta pieces of ≤ 5 characters. `errorEvent`
 * sends `event: error` ({type:'error', error:{type, message}}; type defaults to overloaded_error)
 * after the content blocks instead of the closing events.
 */
import type { AnthropicRequest } from '../../src/agent/providers/anthropic-wire.js';
import {
  argumentsJson,
  jsonFrame,
  splitArguments,
  splitText,
  startScriptedServer,
  textDeltas,
  type FakeProtocol,
  type FakeServer,
  type FakeServerOptions,
  type Frame,
} from './fake-openai.js';

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

const anthropicProtocol: FakeProtocol<AnthropicRequest> = {
  path: '/v1/messages',
  baseUrl: (origin) => origin,
  authorized: (headers, apiKey) => headers['x-api-key'] === apiKey,
  errorBody: (status) => ({
    type: 'error',
    error: { type: ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error'), message: `Fake upstream error ${status}` },
  }),
  errorFrame: (error) =>
    event('error', { type: 'error', error: { type: error.type ?? 'overloaded_error', message: error.message ?? 'Overloaded' } }),
  frames(turn, context) {
    const inputTokens = turn.usage?.inputTokens ?? Math.ceil(context.rawBodyLength / 4);
    const frames: Frame[] = [
      event('message_start', {
        type: 'message_start',
        message: {
          id: `msg_fake${context.requestNumber}`,
          type: 'message',
          role: 'assistant',
          model: context.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
        },
      }),
    ];
    let index = 0;
    const openBlock = (block: Record<string, unknown>) => {
      frames.push(event('content_block_start', { type: 'content_block_start', index, content_block: block }));
      if (index === 0) frames.push(event('ping', { type: 'ping' }));
    };
    const delta = (value: Record<string, unknown>) =>
      frames.push({ ...event('content_block_delta', { type: 'content_block_delta', index, delta: value }), delta: true });
    const closeBlock = () => {
      frames.push(event('content_block_stop', { type: 'content_block_stop', index }));
      index += 1;
    };

    if (turn.reasoning) {
      openBlock({ type: 'thinking', thinking: '', signature: '' });
      for (const piece of splitText(turn.reasoning)) delta({ type: 'thinking_delta', thinking: piece });
      delta({ type: 'signature_delta', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds' });
      closeBlock();
    }
    const texts = textDeltas(turn);
    if (texts.length > 0) {
      openBlock({ type: 'text', text: '' });
      for (const piece of texts) {
        const blockIndex = index;
        frames.push({
          event: 'content_block_delta',
          delta: true,
          data: () =>
            JSON.stringify({
              type: 'content_block_delta',
              index: blockIndex,
              delta: { type: 'text_delta', text: typeof piece === 'function' ? piece() : piece },
            }),
        });
      }
      closeBlock();
    }
    (turn.toolCalls ?? []).forEach((call, position) => {
      openBlock({ type: 'tool_use', id: call.id ?? `toolu_fake${context.requestNumber}_${position}`, name: call.name, input: {} });
      // The real API opens every tool input with an empty partial_json.
      delta({ type: 'input_json_delta', partial_json: '' });
      for (const piece of splitArguments(argumentsJson(call))) delta({ type: 'input_json_delta', partial_json: piece });
      closeBlock();
    });
    if (index === 0) frames.push(event('ping', { type: 'ping' }));
    if (turn.errorEvent) return frames; // the error frame replaces the closing events

    const outputTokens = turn.usage?.outputTokens ?? frames.filter((frame) => frame.delta).length;
    const stopReason = turn.finishReason ?? (turn.toolCalls?.length ? 'tool_use' : 'end_turn');
    frames.push(
      event('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { output_tokens: outputTokens },
      }),
    );
    frames.push(event('message_stop', { type: 'message_stop' }));
    return frames;
  },
};

function event(type: string, data: unknown): Frame {
  return jsonFrame(data, false, type);
}

export function startFakeAnthropic(options: FakeServerOptions = {}): Promise<FakeServer<AnthropicRequest>> {
  return startScriptedServer(anthropicProtocol, options);
}
