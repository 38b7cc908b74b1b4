import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnthropicProvider } from '../src/agent/providers/anthropic.js';
import { buildProviders, providersFromEnv } from '../src/agent/providers/from-config.js';
import type { HttpProviderOptions } from '../src/agent/providers/http-provider-options.js';
import { OfflineProvider } from '../src/agent/providers/offline.js';
import { OpenAICompatibleProvider } from '../src/agent/providers/openai-compatible.js';
import { ResilientModel, type ResilientOptions } from '../src/agent/providers/resilient.js';
import {
  ModelError,
  type ChatMessage,
  type ModelProvider,
  type ModelRequest,
  type ModelStreamEvent,
  type ToolSpec,
} from '../src/agent/providers/types.js';
import type { Config } from '../src/config/schema.js';
import { startFakeAnthropic } from './support/fake-anthropic.js';
import { parseStamps, startFakeOpenAI, type FakeServer } from './support/fake-openai.js';
import { waitUntil } from './support/wait.js';

// ---------------------------------------------------------------------------------------------
// Helpers

const fileWriteTool: ToolSpec = {
  name: 'file_write',
  description: 'Write a file in the workspace',
  parameters: {
    type: 'object',
    properties: { path: { type: 'string' }, content: { type: 'string' } },
    required: ['path', 'content'],
  },
};

function request(messages: ChatMessage[], extra: Partial<ModelRequest> = {}): ModelRequest {
  return { messages, tools: [], signal: new AbortController().signal, ...extra };
}

const ask = (text: string): ChatMessage[] => [{ role: 'user', content: text }];

async function collect(stream: AsyncIterable<ModelStreamEvent[]>): Promise<ModelStreamEvent[]> {
  const events: ModelStreamEvent[] = [];
  for await (const batch of stream) events.push(...batch);
  return events;
}

/** Collects until the stream throws; returns what arrived before and the error. */
async function collectUntilError(stream: AsyncIterable<ModelStreamEvent[]>): Promise<{ events: ModelStreamEvent[]; error: unknown }> {
  const events: ModelStreamEvent[] = [];
  try {
    for await (const batch of stream) events.push(...batch);
  } catch (error) {
    return { events, error };
  }
  assert.fail('expected the stream to fail');
}

const textOf = (events: ModelStreamEvent[]) =>
  events.map((event) => (event.type === 'text' ? event.text : '')).join('');
const reasoningOf = (events: ModelStreamEvent[]) =>
  events.map((event) => (event.type === 'reasoning' ? event.text : '')).join('');
const toolCallsOf = (events: ModelStreamEvent[]) => events.flatMap((event) => (event.type === 'tool_call' ? [event.call] : []));
const textDeltaCount = (events: ModelStreamEvent[]) => events.filter((event) => event.type === 'text').length;

function httpOptions(fake: { baseUrl: string }, overrides: Partial<HttpProviderOptions> = {}): HttpProviderOptions {
  return {
    name: 'primary',
    model: 'test-model',
    baseUrl: fake.baseUrl,
    apiKey: 'sk-test',
    requestTimeoutMs: 5000,
    contextWindow: 100_000,
    supportsVision: true,
    ...overrides,
  };
}

/** Fake clock + sleep: retries are observable (delays recorded) yet take no real time. */
function instantRetries(): ResilientOptions & { delays: number[] } {
  let clock = 0;
  const delays: number[] = [];
  return {
    delays,
    now: () => clock,
    sleep: async (ms) => {
      delays.push(ms);
      clock += ms;
    },
    backoff: { random: () => 0.5 },
  };
}

async function withFakes<T>(count: number, body: (fakes: FakeServer<unknown>[]) => Promise<T>): Promise<T> {
  const fakes = await Promise.all(Array.from({ length: count }, () => startFakeOpenAI()));
  try {
    return await body(fakes as FakeServer<unknown>[]);
  } finally {
    await Promise.all(fakes.map((fake) => fake.close()));
  }
}

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible

test('openai: streams text deltas, then usage, then finish', async () => {
  const fake = await startFakeOpenAI();
  try {
    fake.enqueue({ text: 'Hello there, dear friend', usage: { inputTokens: 11, outputTokens: 4 } });
    const events = await collect(new OpenAICompatibleProvider(httpOptions(fake)).stream(request(ask('hi'))));
    assert.equal(textOf(events), 'Hello there, dear friend');
    assert.equal(textDeltaCount(events), 4, 'each word arrives as its own delta');
    assert.deepEqual(events.at(-2), { type: 'usage', usage: { inputTokens: 11, outputTokens: 4 } });
    assert.deepEqual(events.at(-1), { type: 'finish', reason: 'stop' });
  } finally {
    await fake.close();
  }
});

test('openai: reassembles tool-call arguments split across many chunks', async () => {
  const fake = await startFakeOpenAI();
  try {
    const args = { path: 'notes/today.md', content: 'A longer body that is split into five-character fragments.' };
    fake.enqueue({ toolCalls: [{ name: 'file_write', arguments: args, id: 'call_abc' }] });
    const events = await collect(new OpenAICompatibleProvider(httpOptions(fake)).stream(request(ask('write'), { tools: [fileWriteTool] })));
    const calls = toolCallsOf(events);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.id, 'call_abc');
    assert.equal(calls[0]?.name, 'file_write');
    assert.deepEqual(JSON.parse(calls[0]?.arguments ?? ''), args);
    assert.deepEqual(events.at(-1), { type: 'finish', reason: 'tool_calls' });
    assert.equal(textOf(events), '');
  } finally {
    await fake.close();
  }
});

test('openai: two tool calls in one turn arrive complete and in order', async () => {
  const fake = await startFakeOpenAI();
  try {
    fake.enqueue({
      text: 'Let me do two things.',
      toolCalls: [
        { name: 'file_read', arguments: { path: 'a.txt' } },
        { name: 'file_write', arguments: { path: 'b.txt', content: 'x'.repeat(40) } },
      ],
    });
    const events = await collect(new OpenAICompatibleProvider(httpOptions(fake)).stream(request(ask('go'))));
    const calls = toolCallsOf(events);
    assert.deepEqual(
      calls.map((call) => [call.id, call.name, JSON.parse(call.arguments)]),
      [
        ['call_fake1_0', 'file_read', { path: 'a.txt' }],
        ['call_fake1_1', 'file_write', { path: 'b.txt', content: 'x'.repeat(40) }],
      ],
    );
    assert.equal(textOf(events), 'Let me do two things.');
    // Text first, then the calls, then usage/finish.
    assert.equal(events.findIndex((event) => event.type === 'tool_call') > events.findLastIndex((event) => event.type === 'text'), true);
  } finally {
    await fake.close();
  }
});

test('openai: reasoning_content becomes reasoning events before the answer', async () => {
  const fake = await startFakeOpenAI();
  try {
    fake.enqueue({ reasoning: 'The user greets me, so greet back.', text: 'Hi!' });
    const events = await collect(new OpenAICompatibleProvider(httpOptions(fake)).stream(request(ask('hello'))));
    assert.equal(reasoningOf(events), 'The user greets me, so greet back.');
    assert.equal(events[0]?.type, 'reasoning');
    assert.equal(textOf(events), 'Hi!');
    assert.ok(events.findLastIndex((event) => event.type === 'reasoning') < events.findIndex((event) => event.type === 'text'));
  } finally {
    await fake.close();
  }
});

test('openai: request body carries model, tools, stream_options and mapped messages', async () => {
  const fake = await startFakeOpenAI();
  try {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are terse.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this picture?' },
          { type: 'image', mediaType: 'image/png', dataBase64: 'iVBORw0KGgo=' },
        ],
      },
      { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'file_read', arguments: '{"path":"a"}' }] },
      { role: 'tool', toolCallId: 'call_1', name: 'file_read', content: 'file contents' },
    ];
    await collect(new OpenAICompatibleProvider(httpOptions(fake)).stream(request(messages, { tools: [fileWriteTool], maxOutputTokens: 321 })));
    const [recorded] = fake.requests;
    assert.ok(recorded);
    assert.equal(recorded.headers.authorization, 'Bearer sk-test');
    assert.equal(recorded.path, '/v1/chat/completions');
    assert.equal(recorded.body.model, 'test-model');
    assert.equal(recorded.body.stream, true);
    assert.deepEqual(recorded.body.stream_options, { include_usage: true });
    assert.equal(recorded.body.max_tokens, 321);
    assert.deepEqual(recorded.body.tools, [
      { type: 'function', function: { name: 'file_write', description: fileWriteTool.description, parameters: fileWriteTool.parameters } },
    ]);
    assert.deepEqual(recorded.body.messages, [
      { role: 'system', content: 'You are terse.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this picture?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
        ],
      },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'file_read', arguments: '{"path":"a"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'file contents' },
    ]);
  } finally {
    await fake.close();
  }
});

test('openai: omits tools when none are offered and sends no auth header without a key', async () => {
  const fake = await startFakeOpenAI();
  try {
    const { apiKey: _unused, ...noKey } = httpOptions(fake);
    await collect(new OpenAICompatibleProvider(noKey).stream(request(ask('hi'))));
    const body = fake.requests[0]?.body as unknown as Record<string, unknown>;
    assert.equal('tools' in body, false);
    assert.equal(fake.requests[0]?.headers.authorization, undefined);
  } finally {
    await fake.close();
  }
});

test('openai: HTTP 500 is a retryable ModelError with the status; 400 is not retryable', async () => {
  const fake = await startFakeOpenAI();
  try {
    fake.enqueue({ status: 500 }, { status: 400 });
    const provider = new OpenAICompatibleProvider(httpOptions(fake));
    const first = await collectUntilError(provider.stream(request(ask('hi'))));
    assert.ok(first.error instanceof ModelError);
    assert.equal(first.error.options.status, 500);
    assert.equal(first.error.options.retryable, true);
    assert.equal(first.error.options.started ?? false, false);
    assert.match(first.error.message, /primary: HTTP 500: server_error: Fake upstream error 500/);
    const second = await collectUntilError(provider.stream(request(ask('hi'))));
    assert.ok(second.error instanceof ModelError);
    assert.equal(second.error.options.retryable, false);
  } finally {
    await fake.close();
  }
});

test('openai: a stream cut mid-way is a retryable ModelError marked started', async () => {
  const fake = await startFakeOpenAI();
  try {
    fake.enqueue({ text: 'one two three four five six seven', cutAfterChunks: 4 });
    const { events, error } = await collectUntilError(new OpenAICompatibleProvider(httpOptions(fake)).stream(request(ask('hi'))));
    assert.equal(textOf(events), 'one two three ');
    assert.ok(error instanceof ModelError);
    assert.equal(error.options.retryable, true);
    assert.equal(error.options.started, true);
  } finally {
    await fake.close();
  }
});

test('openai: a body that ends cleanly without finish_reason or [DONE] is a retryable ModelError', async () => {
  const fake = await startFakeOpenAI();
  try {
    fake.enqueue({ text: 'half an answer', endAfterChunks: 3 });
    const { events, error } = await collectUntilError(new OpenAICompatibleProvider(httpOptions(fake)).stream(request(ask('hi'))));
    assert.equal(textOf(events), 'half an ');
    assert.ok(error instanceof ModelError);
    assert.match(error.message, /stream ended before the model finished/);
    assert.equal(error.options.retryable, true);
    assert.equal(error.options.started, true);
  } finally {
    await fake.close();
  }
});

test('openai: an error object inside the stream becomes a ModelError', async () => {
  const fake = await startFakeOpenAI();
  try {
    fake.enqueue({ text: 'partial answer', errorEvent: { type: 'server_error', message: 'upstream exploded' } });
    const { events, error } = await collectUntilError(new OpenAICompatibleProvider(httpOptions(fake)).stream(request(ask('hi'))));
    assert.equal(textOf(events), 'partial answer');
    assert.ok(error instanceof ModelError);
    assert.match(error.message, /upstream exploded/);
    assert.equal(error.options.retryable, true);
    assert.equal(error.options.started, true);
  } finally {
    await fake.close();
  }
});

test('openai: aborting the signal while waiting for the next token stops promptly with an AbortError', async () => {
  const fake = await startFakeOpenAI();
  try {
    fake.enqueue({ tokens: 5, tokenDelayMs: 400 });
    const controller = new AbortController();
    const model = new ResilientModel([{ provider: new OpenAICompatibleProvider(httpOptions(fake)), maxRetryMs: 10_000 }], instantRetries());
    let received = 0;
    let abortedAt = 0;
    await assert.rejects(
      (async () => {
        for await (const batch of model.stream(request(ask('hi'), { signal: controller.signal }))) {
          if (!batch.some((event) => event.type === 'text')) continue;
          received += 1;
          // Abort from outside the loop, while the client is blocked reading the socket.
          setTimeout(() => {
            abortedAt = performance.now();
            controller.abort();
          }, 20);
        }
      })(),
      (error: unknown) => error instanceof Error && error.name === 'AbortError',
    );
    assert.equal(received, 1);
    assert.ok(performance.now() - abortedAt < 150, 'abort must not wait for the next token (400 ms away)');
    assert.equal(fake.requests.length, 1, 'an aborted stream is never retried');
  } finally {
    await fake.close();
  }
});

test('openai: an already-aborted signal fails before any request is sent', async () => {
  const fake = await startFakeOpenAI();
  try {
    const controller = new AbortController();
    controller.abort();
    const { error } = await collectUntilError(
      new OpenAICompatibleProvider(httpOptions(fake)).stream(request(ask('hi'), { signal: controller.signal })),
    );
    assert.equal((error as Error).name, 'AbortError');
    assert.equal(fake.requests.length, 0);
  } finally {
    await fake.close();
  }
});

test('openai: no bytes within request timeout is a retryable ModelError', async () => {
  const fake = await startFakeOpenAI();
  try {
    fake.enqueue({ headerDelayMs: 400 });
    const provider = new OpenAICompatibleProvider(httpOptions(fake, { requestTimeoutMs: 100 }));
    const startedAt = performance.now();
    const { error } = await collectUntilError(provider.stream(request(ask('hi'))));
    assert.ok(error instanceof ModelError);
    assert.match(error.message, /no data received for 0.1s/);
    assert.equal(error.options.retryable, true);
    assert.ok(performance.now() - startedAt < 380);
  } finally {
    await fake.close();
  }
});

test('openai: benchmark turn streams N stamped tokens', async () => {
  const fake = await startFakeOpenAI();
  try {
    fake.enqueue({ tokens: 50, stampTokens: true });
    const before = performance.timeOrigin + performance.now();
    const events = await collect(new OpenAICompatibleProvider(httpOptions(fake)).stream(request(ask('bench'))));
    const stamps = parseStamps(textOf(events));
    assert.equal(textDeltaCount(events), 50);
    assert.equal(stamps.length, 50);
    assert.ok(stamps.every((stamp, index) => stamp >= before && (index === 0 || stamp >= (stamps[index - 1] ?? 0))));
  } finally {
    await fake.close();
  }
});

for (const [name, startFake, providerFor] of [
  ['openai', startFakeOpenAI, (fake: FakeServer<unknown>) => new OpenAICompatibleProvider(httpOptions(fake))],
  ['anthropic', startFakeAnthropic, (fake: FakeServer<unknown>) => new AnthropicProvider(httpOptions(fake))],
] as const) {
  test(`${name}: a turn that ends normally leaves its connection to the next turn; a body that goes on after the end is cut`, async () => {
    const fake = (await startFake()) as FakeServer<unknown>;
    try {
      const provider = providerFor(fake);
      for (let turn = 1; turn <= 3; turn += 1) {
        fake.enqueue({ text: `turn ${turn}` });
        assert.equal(textOf(await collect(provider.stream(request(ask('hi'))))), `turn ${turn}`);
        // The body's last bytes are read after the turn's end reached the caller; the next turn takes the connection once they are.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.deepEqual(fake.connections(), { opened: 1, closed: 0 }, 'three turns, one connection');

      // More than a little after the end (here 20 000 characters, then silence): the turn still ends at once, its connection is given up.
      fake.enqueue({ text: 'the end', trailingChars: 20_000 });
      assert.equal(textOf(await collect(provider.stream(request(ask('hi'))))), 'the end');
      await waitUntil(() => fake.connections().closed === 1, 3_000, 'the connection with the endless body to close');
      fake.enqueue({ text: 'next' });
      assert.equal(textOf(await collect(provider.stream(request(ask('hi'))))), 'next');
      assert.equal(fake.connections().opened, 2);
    } finally {
      await fake.close();
    }
  });
}

test('openai: a pooled connection is closed after 4 s idle, and a stream silent for longer is not cut', async () => {
  const fake = await startFakeOpenAI();
  try {
    const provider = new OpenAICompatibleProvider(httpOptions(fake, { requestTimeoutMs: 30_000 }));
    fake.enqueue({ text: 'slow', tokenDelayMs: 4_500 });
    assert.equal(textOf(await collect(provider.stream(request(ask('hi'))))), 'slow');
    assert.deepEqual(fake.connections(), { opened: 1, closed: 0 });
    await waitUntil(() => fake.connections().closed === 1, 8_000, 'the idle connection to be closed by the client');
  } finally {
    await fake.close();
  }
});

// ---------------------------------------------------------------------------------------------
// ResilientModel

test('resilient: a 500 is retried with backoff and the retry answers', () =>
  withFakes(1, async ([fake]) => {
    assert.ok(fake);
    fake.enqueue({ status: 500 }, { text: 'second time lucky' });
    const retries = instantRetries();
    const model = new ResilientModel([{ provider: new OpenAICompatibleProvider(httpOptions(fake)), maxRetryMs: 30_000 }], retries);
    const events = await collect(model.stream(request(ask('hi'))));
    assert.equal(textOf(events), 'second time lucky');
    assert.equal(fake.requests.length, 2);
    // attempt 0: base 250 ms, equal jitter with random()=0.5 → 187.5 ms
    assert.deepEqual(retries.delays, [187.5]);
    assert.equal(model.lastProviderName, 'primary');
  }));

test('resilient: 429 honours Retry-After', () =>
  withFakes(1, async ([fake]) => {
    assert.ok(fake);
    fake.enqueue({ status: 429, retryAfter: 2 }, { text: 'ok after waiting' });
    const retries = instantRetries();
    const model = new ResilientModel([{ provider: new OpenAICompatibleProvider(httpOptions(fake)), maxRetryMs: 30_000 }], retries);
    const events = await collect(model.stream(request(ask('hi'))));
    assert.equal(textOf(events), 'ok after waiting');
    assert.deepEqual(retries.delays, [2000]);
  }));

test('resilient: when retries exhaust the budget, the fallback provider answers', () =>
  withFakes(2, async ([primary, backup]) => {
    assert.ok(primary && backup);
    primary.setDefaultTurn({ status: 503 });
    backup.enqueue({ text: 'backup here' });
    const retries = instantRetries();
    const logs: string[] = [];
    const model = new ResilientModel(
      [
        { provider: new OpenAICompatibleProvider(httpOptions(primary)), maxRetryMs: 2000 },
        { provider: new OpenAICompatibleProvider(httpOptions(backup, { name: 'backup' })), maxRetryMs: 2000 },
      ],
      { ...retries, log: (line) => logs.push(line) },
    );
    const events = await collect(model.stream(request(ask('hi'))));
    assert.equal(textOf(events), 'backup here');
    assert.equal(model.lastProviderName, 'backup');
    // Delays 187.5, 375, 750 fit into 2 s; the next (1500) would exceed it.
    assert.deepEqual(retries.delays, [187.5, 375, 750]);
    assert.equal(primary.requests.length, 4);
    assert.equal(backup.requests.length, 1);
    assert.ok(logs.some((line) => /falling back to backup/.test(line)));
  }));

test('resilient: a non-retryable error skips straight to the fallback', () =>
  withFakes(2, async ([primary, backup]) => {
    assert.ok(primary && backup);
    primary.enqueue({ status: 401 });
    const retries = instantRetries();
    const model = new ResilientModel(
      [
        { provider: new OpenAICompatibleProvider(httpOptions(primary)), maxRetryMs: 30_000 },
        { provider: new OpenAICompatibleProvider(httpOptions(backup, { name: 'backup' })), maxRetryMs: 30_000 },
      ],
      retries,
    );
    assert.equal(textOf(await collect(model.stream(request(ask('hi'))))), 'ok');
    assert.equal(primary.requests.length, 1);
    assert.deepEqual(retries.delays, []);
  }));

test('resilient: when every provider fails the error names each one', () =>
  withFakes(2, async ([primary, backup]) => {
    assert.ok(primary && backup);
    primary.setDefaultTurn({ status: 500 });
    backup.setDefaultTurn({ status: 400 });
    const model = new ResilientModel(
      [
        { provider: new OpenAICompatibleProvider(httpOptions(primary)), maxRetryMs: 500 },
        { provider: new OpenAICompatibleProvider(httpOptions(backup, { name: 'backup' })), maxRetryMs: 500 },
      ],
      instantRetries(),
    );
    const { error } = await collectUntilError(model.stream(request(ask('hi'))));
    assert.ok(error instanceof ModelError);
    assert.equal(error.options.retryable, false);
    assert.match(error.message, /All model providers failed/);
    assert.match(error.message, /primary: HTTP 500.*gave up after 2 attempts/);
    assert.match(error.message, /backup: HTTP 400/);
  }));

test('resilient: a stream cut after output started is not retried or failed over', () =>
  withFakes(2, async ([primary, backup]) => {
    assert.ok(primary && backup);
    primary.enqueue({ text: 'alpha beta gamma delta epsilon', cutAfterChunks: 3 });
    const retries = instantRetries();
    const model = new ResilientModel(
      [
        { provider: new OpenAICompatibleProvider(httpOptions(primary)), maxRetryMs: 30_000 },
        { provider: new OpenAICompatibleProvider(httpOptions(backup, { name: 'backup' })), maxRetryMs: 30_000 },
      ],
      retries,
    );
    const { events, error } = await collectUntilError(model.stream(request(ask('hi'))));
    assert.equal(textOf(events), 'alpha beta ', 'deltas are never duplicated');
    assert.ok(error instanceof ModelError);
    assert.equal(error.options.retryable, false);
    assert.equal(error.options.started, true);
    assert.match(error.message, /already streaming/);
    assert.equal(primary.requests.length, 1);
    assert.equal(backup.requests.length, 0);
    assert.deepEqual(retries.delays, []);
  }));

test('resilient: a stream cut before any output is retried', () =>
  withFakes(1, async ([fake]) => {
    assert.ok(fake);
    // Only the empty role chunk gets through: nothing was yielded, so a retry is safe.
    fake.enqueue({ text: 'lost', cutAfterChunks: 1 }, { text: 'fresh answer' });
    const model = new ResilientModel([{ provider: new OpenAICompatibleProvider(httpOptions(fake)), maxRetryMs: 30_000 }], instantRetries());
    assert.equal(textOf(await collect(model.stream(request(ask('hi'))))), 'fresh answer');
    assert.equal(fake.requests.length, 2);
  }));

test('resilient: image parts are replaced for a fallback without vision', async () => {
  const seen: ChatMessage[][] = [];
  const recorder: ModelProvider = {
    name: 'text-only',
    model: 'm',
    supportsVision: false,
    contextWindow: 8000,
    async *stream(req) {
      seen.push(req.messages);
      yield [{ type: 'finish', reason: 'stop' }];
    },
  };
  const model = new ResilientModel([{ provider: recorder, maxRetryMs: 0 }], instantRetries());
  await collect(
    model.stream(request([{ role: 'user', content: [{ type: 'image', mediaType: 'image/png', dataBase64: 'AAAA' }] }])),
  );
  assert.deepEqual(seen[0], [{ role: 'user', content: [{ type: 'text', text: '[image omitted: this model cannot read images]' }] }]);
  assert.equal(model.contextWindow, 8000);
});

// ---------------------------------------------------------------------------------------------
// Anthropic

test('anthropic: thinking and text blocks stream as reasoning and text with usage', async () => {
  const fake = await startFakeAnthropic();
  try {
    fake.enqueue({ reasoning: 'Consider the greeting.', text: 'Hello from Claude', usage: { inputTokens: 42, outputTokens: 7 } });
    const events = await collect(new AnthropicProvider(httpOptions(fake)).stream(request(ask('hi'))));
    assert.equal(events[0]?.type, 'reasoning');
    assert.equal(reasoningOf(events), 'Consider the greeting.');
    assert.equal(textOf(events), 'Hello from Claude');
    assert.equal(textDeltaCount(events), 3);
    assert.deepEqual(events.slice(-2), [
      { type: 'usage', usage: { inputTokens: 42, outputTokens: 7 } },
      { type: 'finish', reason: 'stop' },
    ]);
  } finally {
    await fake.close();
  }
});

test('anthropic: tool_use blocks reassemble input_json_delta pieces', async () => {
  const fake = await startFakeAnthropic();
  try {
    const writeArgs = { path: 'report.md', content: '# Title\n\nSome "quoted" text and unicode: é✓' };
    fake.enqueue({
      text: 'Writing now.',
      toolCalls: [
        { name: 'file_write', arguments: writeArgs, id: 'toolu_01' },
        { name: 'list_files', arguments: {} },
      ],
    });
    const events = await collect(new AnthropicProvider(httpOptions(fake)).stream(request(ask('write'), { tools: [fileWriteTool] })));
    const calls = toolCallsOf(events);
    assert.equal(calls.length, 2);
    assert.equal(calls[0]?.id, 'toolu_01');
    assert.equal(calls[0]?.name, 'file_write');
    assert.deepEqual(JSON.parse(calls[0]?.arguments ?? ''), writeArgs);
    assert.equal(calls[1]?.name, 'list_files');
    assert.equal(calls[1]?.arguments, '{}');
    assert.deepEqual(events.at(-1), { type: 'finish', reason: 'tool_calls' });
  } finally {
    await fake.close();
  }
});

test('anthropic: a mid-stream error event is a ModelError (overloaded is retryable)', async () => {
  const fake = await startFakeAnthropic();
  try {
    fake.enqueue({ text: 'partial', errorEvent: { type: 'overloaded_error', message: 'Overloaded' } });
    fake.enqueue({ errorEvent: { type: 'invalid_request_error', message: 'bad' } });
    const provider = new AnthropicProvider(httpOptions(fake));
    const first = await collectUntilError(provider.stream(request(ask('hi'))));
    assert.equal(textOf(first.events), 'partial');
    assert.ok(first.error instanceof ModelError);
    assert.match(first.error.message, /overloaded_error.*Overloaded/);
    assert.equal(first.error.options.retryable, true);
    assert.equal(first.error.options.started, true);
    const second = await collectUntilError(provider.stream(request(ask('hi'))));
    assert.ok(second.error instanceof ModelError);
    assert.equal(second.error.options.retryable, false);
  } finally {
    await fake.close();
  }
});

test('anthropic: overloaded before any output is retried by ResilientModel; 529 status too', async () => {
  const fake = await startFakeAnthropic();
  try {
    fake.enqueue({ errorEvent: { type: 'overloaded_error' } }, { status: 529 }, { text: 'finally' });
    const retries = instantRetries();
    const model = new ResilientModel([{ provider: new AnthropicProvider(httpOptions(fake)), maxRetryMs: 30_000 }], retries);
    assert.equal(textOf(await collect(model.stream(request(ask('hi'))))), 'finally');
    assert.equal(fake.requests.length, 3);
    assert.equal(retries.delays.length, 2);
  } finally {
    await fake.close();
  }
});

test('anthropic: request maps system, tools, tool_use and merged tool_result blocks', async () => {
  const fake = await startFakeAnthropic();
  try {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Read two files' },
      {
        role: 'assistant',
        content: 'Reading.',
        toolCalls: [
          { id: 'toolu_a', name: 'file_read', arguments: '{"path":"a"}' },
          { id: 'toolu_b', name: 'file_read', arguments: '{"path":"b"}' },
        ],
      },
      { role: 'tool', toolCallId: 'toolu_a', name: 'file_read', content: 'AAA' },
      { role: 'tool', toolCallId: 'toolu_b', name: 'file_read', content: 'BBB' },
      { role: 'user', content: [{ type: 'image', mediaType: 'image/jpeg', dataBase64: '/9j/4AAQ' }] },
    ];
    await collect(new AnthropicProvider(httpOptions(fake)).stream(request(messages, { tools: [fileWriteTool] })));
    const recorded = fake.requests[0];
    assert.ok(recorded);
    assert.equal(recorded.path, '/v1/messages');
    assert.equal(recorded.headers['x-api-key'], 'sk-test');
    assert.equal(recorded.headers['anthropic-version'], '2023-06-01');
    assert.match(String(recorded.headers['content-type']), /application\/json/);
    assert.equal(recorded.body.max_tokens, 4096);
    assert.equal(recorded.body.stream, true);
    assert.equal(recorded.body.system, 'Be brief.');
    assert.deepEqual(recorded.body.tools, [
      { name: 'file_write', description: fileWriteTool.description, input_schema: fileWriteTool.parameters },
    ]);
    assert.deepEqual(recorded.body.messages, [
      { role: 'user', content: 'Read two files' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Reading.' },
          { type: 'tool_use', id: 'toolu_a', name: 'file_read', input: { path: 'a' } },
          { type: 'tool_use', id: 'toolu_b', name: 'file_read', input: { path: 'b' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_a', content: 'AAA' },
          { type: 'tool_result', tool_use_id: 'toolu_b', content: 'BBB' },
          { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } },
        ],
      },
    ]);
  } finally {
    await fake.close();
  }
});

test('anthropic: a stream cut or ended before message_stop is a retryable ModelError', async () => {
  const fake = await startFakeAnthropic();
  try {
    // Frames: message_start, content_block_start, ping, then deltas.
    fake.enqueue({ text: 'one two three four', cutAfterChunks: 5 }, { text: 'one two three four', endAfterChunks: 5 });
    const provider = new AnthropicProvider(httpOptions(fake));
    for (const expected of [/connection failed/, /stream ended before message_stop/]) {
      const { events, error } = await collectUntilError(provider.stream(request(ask('hi'))));
      assert.equal(textOf(events), 'one two ');
      assert.ok(error instanceof ModelError);
      assert.match(error.message, expected);
      assert.equal(error.options.retryable, true);
      assert.equal(error.options.started, true);
    }
  } finally {
    await fake.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Offline demo model

test('offline: answers with reasoning, several text deltas, usage and finish', async () => {
  const events = await collect(new OfflineProvider().stream(request(ask('Hello there'))));
  assert.equal(events[0]?.type, 'reasoning');
  assert.match(reasoningOf(events), /^Offline demo model:/);
  assert.ok(textDeltaCount(events) > 5);
  assert.match(textOf(events), /offline demo model/);
  assert.match(textOf(events), /no model provider is configured/);
  assert.match(textOf(events), /Hello there/);
  const usage = events.find((event) => event.type === 'usage');
  assert.ok(usage?.type === 'usage' && usage.usage.outputTokens > 0 && usage.usage.inputTokens > 0);
  assert.deepEqual(events.at(-1), { type: 'finish', reason: 'stop' });
});

test('offline: "write file NAME: CONTENT" calls file_write, then summarizes the result', async () => {
  const model = new OfflineProvider();
  const history: ChatMessage[] = [{ role: 'user', content: 'Please Write File notes.txt: hello world ' }];
  const first = await collect(model.stream(request(history, { tools: [fileWriteTool] })));
  const calls = toolCallsOf(first);
  assert.equal(calls.length, 1);
  assert.equal(calls[0]?.name, 'file_write');
  assert.deepEqual(JSON.parse(calls[0]?.arguments ?? ''), { path: 'notes.txt', content: 'hello world' });
  assert.deepEqual(first.at(-1), { type: 'finish', reason: 'tool_calls' });
  assert.equal(textOf(first), '');

  const call = calls[0];
  assert.ok(call);
  history.push({ role: 'assistant', content: '', toolCalls: [call] });
  history.push({ role: 'tool', toolCallId: call.id, name: 'file_write', content: 'wrote 11 bytes to notes.txt' });
  const second = await collect(model.stream(request(history, { tools: [fileWriteTool] })));
  assert.equal(toolCallsOf(second).length, 0);
  assert.match(textOf(second), /file_write replied: wrote 11 bytes to notes\.txt/);
  assert.deepEqual(second.at(-1), { type: 'finish', reason: 'stop' });
});

test('offline: without the file_write tool it explains instead of calling it', async () => {
  const events = await collect(new OfflineProvider().stream(request(ask('write file a.txt: x'))));
  assert.equal(toolCallsOf(events).length, 0);
  assert.match(textOf(events), /file_write tool is not available/);
});

// ---------------------------------------------------------------------------------------------
// buildProviders

const noConfig: Pick<Config, 'model' | 'providers'> = { model: { fallback: [] }, providers: {} };

test('buildProviders: SPARK_API_KEY derives the spark provider and calls its endpoint', async () => {
  const definitions = providersFromEnv({ SPARK_API_KEY: 'spark-secret' });
  assert.equal(definitions.spark?.base_url, 'https://spark-api-open.xf-yun.com/v1');
  assert.equal(definitions.spark?.model, '4.0Ultra');
  assert.equal(definitions.spark?.type, 'openai-compatible');

  const built = buildProviders(noConfig, { SPARK_API_KEY: 'spark-secret' });
  assert.equal(built.offline, false);
  assert.equal(built.defaultName, 'spark');
  assert.equal(built.model.model, '4.0Ultra');
  assert.equal(built.model.name, 'spark');

  // SPARK_BASE_URL (like OPENAI_BASE_URL) points it at a loopback server speaking the same wire format.
  const fake = await startFakeOpenAI({ defaultTurn: { text: 'hi' } });
  try {
    const env = { SPARK_API_KEY: 'spark-secret', SPARK_BASE_URL: fake.baseUrl };
    assert.equal(providersFromEnv(env).spark?.base_url, fake.baseUrl);
    const events = await collect(buildProviders(noConfig, env).model.stream(request(ask('hi'))));
    assert.equal(textOf(events), 'hi');
    assert.deepEqual(
      fake.requests.map((recorded) => [recorded.path, recorded.headers.authorization, (recorded.body as { model?: string }).model]),
      [['/v1/chat/completions', 'Bearer spark-secret', '4.0Ultra']],
    );
  } finally {
    await fake.close();
  }
});

test('buildProviders: OPENAI and ANTHROPIC keys derive openai and claude; first found is default', () => {
  const built = buildProviders(noConfig, {
    OPENAI_API_KEY: 'sk-o',
    OPENAI_MODEL: 'gpt-test',
    ANTHROPIC_API_KEY: 'sk-a',
  });
  assert.equal(built.defaultName, 'openai');
  assert.equal(built.providers.get('openai')?.model, 'gpt-test');
  assert.equal(built.providers.get('claude')?.model, 'claude-sonnet-4-5');
  assert.ok(built.providers.get('claude') instanceof AnthropicProvider);
});

test('buildProviders: with nothing configured the offline model answers and a warning is logged', async () => {
  const logs: string[] = [];
  const built = buildProviders(noConfig, {}, (line) => logs.push(line));
  assert.equal(built.offline, true);
  assert.equal(built.defaultName, 'offline');
  assert.equal(built.model.model, 'offline-demo');
  assert.ok(logs.some((line) => /NO MODEL PROVIDER CONFIGURED/.test(line) && /offline demo model/.test(line)));
  assert.match(textOf(await collect(built.model.stream(request(ask('hi'))))), /offline demo model/);
});

test('buildProviders: unknown names in model.default / model.fallback are errors naming the key', () => {
  const providers = { main: { type: 'openai-compatible', base_url: 'http://127.0.0.1:1/v1', model: 'm', max_retry_s: 1, request_timeout_s: 1, context_window: 1000, supports_vision: false } } as const;
  assert.throws(() => buildProviders({ model: { fallback: ['nope'] }, providers }, {}), /model\.fallback: unknown provider "nope"/);
  assert.throws(() => buildProviders({ model: { default: 'ghost', fallback: [] }, providers }, {}), /model\.default: unknown provider "ghost"/);
});

test('buildProviders: a remote provider without a key is an error; loopback needs none', () => {
  const remote = {
    remote: { type: 'openai-compatible', base_url: 'https://api.example.com/v1', api_key_env: 'EXAMPLE_KEY', model: 'm', max_retry_s: 1, request_timeout_s: 1, context_window: 1000, supports_vision: false },
  } as const;
  assert.throws(() => buildProviders({ model: { fallback: [] }, providers: remote }, {}), /providers\.remote: .*EXAMPLE_KEY/);
  assert.doesNotThrow(() => buildProviders({ model: { fallback: [] }, providers: remote }, { EXAMPLE_KEY: 'k' }));
});

test('buildProviders: configured default + fallback chain fails over between fake servers', async () => {
  const openai = await startFakeOpenAI();
  const anthropic = await startFakeAnthropic();
  try {
    openai.setDefaultTurn({ status: 500 });
    anthropic.enqueue({ text: 'claude saves the day' });
    const built = buildProviders(
      {
        model: { default: 'local', fallback: ['backup'] },
        providers: {
          local: { type: 'openai-compatible', base_url: openai.baseUrl, model: 'llama', max_retry_s: 1, request_timeout_s: 5, context_window: 8000, supports_vision: false },
          backup: { type: 'anthropic', base_url: anthropic.baseUrl, api_key: 'sk-ant', model: 'claude-x', max_retry_s: 1, request_timeout_s: 5, context_window: 200000, supports_vision: true },
        },
      },
      {},
      () => {},
      instantRetries(),
    );
    assert.equal(built.defaultName, 'local');
    assert.deepEqual(built.model.providerNames, ['local', 'backup']);
    const events = await collect(built.model.stream(request(ask('hi'))));
    assert.equal(textOf(events), 'claude saves the day');
    assert.equal(built.model.lastProviderName, 'backup');
    assert.equal(openai.requests[0]?.headers.authorization, undefined, 'loopback provider without key sends no auth');
    assert.equal(anthropic.requests[0]?.headers['x-api-key'], 'sk-ant');
    assert.deepEqual(built.modelFor('backup').providerNames, ['backup']);
  } finally {
    await Promise.all([openai.close(), anthropic.close()]);
  }
});
