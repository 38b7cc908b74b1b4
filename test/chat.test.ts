import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFakeOpenAI } from './support/fake-openai.js';
import { startFakeAnthropic } from './support/fake-anthropic.js';
import { fakeProviderToml } from './support/fake-provider-config.js';
import { registerUser, startTestServer } from './support/server.js';
import { startFakeModelServer } from './support/fake-model-server.js';
import { SseClient } from './support/sse.js';

type Fake = Awaited<ReturnType<typeof startFakeOpenAI>>;
type Fixture = Awaited<ReturnType<typeof startFakeModelServer>>;

const LIMITS = '[limits]\nrequests_per_minute = 100000\nsse_concurrent = 10\n[agent]\nmax_iterations = 4';

describe('chat over SSE with an OpenAI-compatible model', () => {
  let fixture: Fixture;
  let fake: Fake;
  let server: Fixture['server'];
  let user: Fixture['user'];
  before(async () => {
    fixture = await startFakeModelServer(LIMITS);
    ({ fake, server, user } = fixture);
  });
  after(() => fixture.shutdown());

  const newSession = () => fixture.newSession();
  const send = (sessionId: string, content: string, token = user.token) =>
    SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token, method: 'POST', body: { content } });

  test('a tool-calling turn: thinking, tool_call, tool_result, content, done in order, and the file exists', async () => {
    const sessionId = await newSession();
    fake.enqueue(
      {
        reasoning: 'I should write the file first.',
        toolCalls: [{ name: 'file_write', arguments: { path: 'notes/plan.md', content: '# Plan\n- step one\n' } }],
        usage: { inputTokens: 50, outputTokens: 20 },
      },
      { text: 'I wrote notes/plan.md for you.', usage: { inputTokens: 80, outputTokens: 10 } },
    );
    const stream = await send(sessionId, 'Write a plan file');
    assert.equal(stream.status, 200);
    assert.match(stream.headers!.get('content-type')!, /text\/event-stream/);
    await stream.waitForEnd();

    const names = stream.events.map((event) => event.event);
    const order = ['thinking', 'tool_call', 'tool_result', 'content', 'done'].map((name) => names.indexOf(name));
    assert.ok(order.every((index, position) => index >= 0 && (position === 0 || index > order[position - 1]!)), `order: ${names.join(',')}`);
    assert.ok(stream.events.every((event) => event.id && /^\d+$/.test(event.id)), 'every frame has an id');
    const ids = stream.events.map((event) => Number(event.id));
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));

    const thinking = stream.events.filter((event) => event.event === 'thinking').map((event) => event.data);
    assert.ok(thinking.every((chunk) => chunk.iteration === 1));
    assert.equal(thinking.map((chunk) => chunk.reasoning).join(''), 'I should write the file first.');
    const call = stream.events.find((event) => event.event === 'tool_call')!.data;
    assert.equal(call.tool, 'file_write');
    assert.deepEqual(call.args, { path: 'notes/plan.md', content: '# Plan\n- step one\n' });
    assert.equal(call.iteration, 1);
    assert.ok(call.call_id);
    const result = stream.events.find((event) => event.event === 'tool_result')!.data;
    assert.equal(result.call_id, call.call_id);
    assert.equal(result.tool, 'file_write');
    assert.equal(result.success, true);
    assert.equal(typeof result.result, 'string');
    assert.equal(typeof result.duration_ms, 'number');
    const text = stream.events.filter((event) => event.event === 'content').map((event) => event.data.text).join('');
    assert.equal(text, 'I wrote notes/plan.md for you.');
    const done = stream.events.find((event) => event.event === 'done')!.data;
    assert.equal(done.content, 'I wrote notes/plan.md for you.');
    assert.equal(done.iterations, 2);
    assert.deepEqual(done.usage, { input_tokens: 130, output_tokens: 30 });
    assert.equal(done.artifacts.length, 1);
    assert.equal(done.artifacts[0].path, 'notes/plan.md');
    assert.ok(stream.events.every((event) => event.data.run_id === done.run_id));

    const file = join(server.environment.dir, 'data', 'workspaces', sessionId, 'notes', 'plan.md');
    assert.ok(existsSync(file));
    assert.equal(readFileSync(file, 'utf8'), '# Plan\n- step one\n');

    // The model received the tool result tied to its call id.
    const secondRequest = fake.requests.at(-1)!.body as { messages: Array<{ role: string; tool_call_id?: string }> };
    assert.ok(secondRequest.messages.some((message) => message.role === 'tool' && message.tool_call_id === call.call_id));

    const messages = await server.api('GET', `/api/v1/sessions/${sessionId}/messages`, { token: user.token });
    assert.deepEqual(messages.body.items.map((message: { role: string }) => message.role), ['user', 'assistant', 'tool', 'assistant']);
    assert.equal(messages.body.items[1].tool_calls[0].id, call.call_id);
    assert.equal(messages.body.items[2].tool_call_id, call.call_id);
    const session = await server.api('GET', `/api/v1/sessions/${sessionId}?include_details=true`, { token: user.token });
    assert.equal(session.body.status, 'completed');
    assert.equal(session.body.message_count, 4);
    assert.deepEqual(session.body.usage, { input_tokens: 130, output_tokens: 30 });
    const artifacts = await server.api('GET', `/api/v1/sessions/${sessionId}/artifacts`, { token: user.token });
    assert.equal(artifacts.body.total, 1);
    const download = await fetch(`${server.url}${artifacts.body.items[0].download_url}`, { headers: { authorization: `Bearer ${user.token}` } });
    assert.equal(await download.text(), '# Plan\n- step one\n');
  });

  test('two tool calls in one turn, a malformed call and an escaping path come back to the model as errors', async () => {
    const sessionId = await newSession();
    fake.enqueue(
      {
        toolCalls: [
          { name: 'file_write', arguments: { path: 'a.txt', content: 'A' } },
          { name: 'no_such_tool', arguments: {} },
        ],
      },
      { toolCalls: [{ name: 'file_read', arguments: '{"path": "../../etc/passwd"' }, { name: 'file_read', arguments: { path: '/etc/passwd' } }] },
      { text: 'recovered' },
    );
    const stream = await send(sessionId, 'go');
    await stream.waitForEnd();
    const results = stream.events.filter((event) => event.event === 'tool_result').map((event) => event.data);
    assert.equal(results.length, 4);
    assert.deepEqual(results.map((result) => result.success), [true, false, false, false]);
    assert.match(results[1].result, /Unknown tool/);
    assert.match(results[2].result, /JSON/i);
    assert.doesNotMatch(results[3].result, /root:/);
    assert.equal(stream.events.at(-1)!.event, 'done');
    assert.equal(stream.events.at(-1)!.data.content, 'recovered');
  });

  test('a second message while a run is active is 409; closing the connection does not stop the run', async () => {
    const sessionId = await newSession();
    fake.enqueue({ text: 'one two three four five six seven eight nine ten', tokenDelayMs: 60 });
    const first = await send(sessionId, 'slow please');
    await first.waitForEvent('content');
    const second = await server.api('POST', `/api/v1/chat/${sessionId}/message`, { token: user.token, body: { content: 'again' } });
    assert.equal(second.status, 409);
    assert.equal(second.body.error_code, 'CONFLICT');
    first.close();
    // The run finishes without anyone watching.
    for (let attempt = 0; attempt < 100; attempt++) {
      const session = await server.api('GET', `/api/v1/sessions/${sessionId}`, { token: user.token });
      if (session.body.status === 'completed') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const messages = await server.api('GET', `/api/v1/sessions/${sessionId}/messages`, { token: user.token });
    assert.equal(messages.body.items.at(-1).content, 'one two three four five six seven eight nine ten');
  });

  test('stop cancels mid-stream within 2 s: error CANCELLED, session completed', async () => {
    const sessionId = await newSession();
    fake.enqueue({ tokens: 10_000, tokenDelayMs: 20 });
    const stream = await send(sessionId, 'long task');
    await stream.waitForEvent('content');
    const started = Date.now();
    const stop = await server.api('POST', `/api/v1/chat/${sessionId}/stop`, { token: user.token });
    assert.equal(stop.status, 200);
    assert.deepEqual(stop.body, { stopped: true });
    await stream.waitForEvent('error', 2000);
    assert.ok(Date.now() - started < 2000);
    const error = stream.events.find((event) => event.event === 'error')!.data;
    assert.equal(error.code, 'CANCELLED');
    await stream.waitForEnd();
    const session = await server.api('GET', `/api/v1/sessions/${sessionId}`, { token: user.token });
    assert.equal(session.body.status, 'completed');
    const again = await server.api('POST', `/api/v1/chat/${sessionId}/stop`, { token: user.token });
    assert.deepEqual(again.body, { stopped: false });
  });

  test('runs one after another share one model connection (a turn that ends does not close it)', async () => {
    const sessionId = await newSession();
    const before = fake.connections().opened;
    for (const answer of ['first', 'second', 'third']) {
      fake.enqueue({ text: answer });
      const stream = await send(sessionId, `say ${answer}`);
      await stream.waitForEnd();
      assert.equal(stream.events.at(-1)!.data.content, answer);
      // The body's last bytes are read just after the turn's end; the next run then finds the connection free.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // One new connection at most (none when an earlier test's is still pooled), not one per run.
    assert.ok(fake.connections().opened - before <= 1, `${fake.connections().opened - before} connections for three runs`);
  });

  test('a provider 500 is retried and the run succeeds', async () => {
    const sessionId = await newSession();
    const before = fake.requests.length;
    fake.enqueue({ status: 500 }, { text: 'after retry' });
    const stream = await send(sessionId, 'flaky');
    await stream.waitForEnd();
    assert.equal(stream.events.at(-1)!.event, 'done');
    assert.equal(stream.events.at(-1)!.data.content, 'after retry');
    assert.equal(fake.requests.length - before, 2);
  });

  test('a model stream cut mid-way ends with an error event and the session is not left running', async () => {
    const sessionId = await newSession();
    fake.enqueue({ text: 'this answer will be cut off before the end of it', cutAfterChunks: 4 });
    const stream = await send(sessionId, 'cut');
    await stream.waitForEnd();
    const last = stream.events.at(-1)!;
    assert.equal(last.event, 'error');
    assert.equal(last.data.code, 'MODEL_ERROR');
    const session = await server.api('GET', `/api/v1/sessions/${sessionId}?include_details=true`, { token: user.token });
    assert.equal(session.body.status, 'error');
    assert.equal(session.body.current_run, null);
    // The session accepts a new message afterwards.
    fake.enqueue({ text: 'fine now' });
    const next = await send(sessionId, 'again');
    await next.waitForEnd();
    assert.equal(next.events.at(-1)!.event, 'done');
  });

  test('max_iterations ends the run with an error', async () => {
    const sessionId = await newSession();
    for (let index = 0; index < 4; index++) fake.enqueue({ toolCalls: [{ name: 'file_list', arguments: {} }] });
    const stream = await send(sessionId, 'loop forever');
    await stream.waitForEnd();
    const last = stream.events.at(-1)!;
    assert.equal(last.event, 'error');
    assert.equal(last.data.code, 'MAX_ITERATIONS');
  });

  test('bad chat input: empty content, unknown session, foreign session, unknown attachment', async () => {
    const sessionId = await newSession();
    const empty = await server.api('POST', `/api/v1/chat/${sessionId}/message`, { token: user.token, body: { content: '' } });
    assert.equal(empty.status, 400);
    const tooLong = await server.api('POST', `/api/v1/chat/${sessionId}/message`, { token: user.token, body: { content: 'x'.repeat(100_001) } });
    assert.equal(tooLong.status, 400);
    const unknown = await server.api('POST', '/api/v1/chat/00000000-0000-4000-8000-000000000000/message', { token: user.token, body: { content: 'hi' } });
    assert.equal(unknown.status, 404);
    const other = await registerUser(server.api);
    const foreign = await server.api('POST', `/api/v1/chat/${sessionId}/message`, { token: other.token, body: { content: 'hi' } });
    assert.equal(foreign.status, 403);
    const attachment = await server.api('POST', `/api/v1/chat/${sessionId}/message`, { token: user.token, body: { content: 'hi', attachments: [{ file_id: 'missing' }] } });
    assert.equal(attachment.status, 404);
    assert.equal((await server.api('POST', `/api/v1/chat/${sessionId}/stop`, { token: other.token })).status, 403);
    // The access check is part of the start's statement: a refused start leaves neither a run nor a message behind.
    const foreignImage = await server.api('POST', `/api/v1/chat/${sessionId}/message`, {
      token: other.token,
      body: { content: 'hi', attachments: [{ type: 'image', url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==' }] },
    });
    assert.equal(foreignImage.status, 403);
    const { db } = server.inProcess!.context.store.handle;
    assert.deepEqual(await db.selectFrom('files').select('id').where('user_id', '=', other.userId).execute(), [], 'the refused message stored no upload');
    const untouched = await server.api('GET', `/api/v1/sessions/${sessionId}?include_details=true`, { token: user.token });
    assert.deepEqual([untouched.body.status, untouched.body.message_count, untouched.body.current_run], ['created', 0, null]);
    fake.enqueue({ text: 'still mine' });
    const owner = await send(sessionId, 'hi');
    assert.equal(owner.status, 200);
    await owner.waitForEnd();
    assert.equal(owner.events.at(-1)!.event, 'done');
  });

  test('a long answer is stored once for its message_completed and done, and every reader gets it whole', async () => {
    const sessionId = await newSession();
    const answer = `${'a long answer, "quoted", \\ back-slashed and on. '.repeat(20)}the end`;
    fake.enqueue({ text: answer });
    const chat = await send(sessionId, 'answer at length');
    await chat.waitForEnd();
    const done = chat.events.at(-1)!;
    assert.deepEqual([done.event, done.data.content], ['done', answer]);
    const runId = String(done.data.run_id);
    const { db } = server.inProcess!.context.store.handle;
    const rows = await db.selectFrom('events').select('data').where('run_id', '=', runId).where('type', 'in', ['message_completed', 'done']).execute();
    assert.equal(rows.length, 1, 'one row for the two');
    assert.equal(rows[0]!.data.split(JSON.stringify(answer)).length, 2, 'holding the answer once');
    // The session stream replayed from the start, and resumed between the two (inside their row).
    for (const lastEventId of [0, Number(done.id) - 1]) {
      const replay = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream`, { token: user.token, lastEventId });
      await replay.waitForEvent('done');
      const replayed = replay.events.filter((event) => event.event === 'done');
      assert.deepEqual(replayed.map((event) => [event.id, event.data.content, event.data.run_id]), [[done.id, answer, runId]], `from ${lastEventId}`);
      replay.close();
    }
    const service = await SseClient.open(`${server.url}/api/stream`, { token: user.token, lastEventId: 0 });
    await service.waitFor((events) => events.some((event) => event.data.type === 'task_completed' && event.data.run_id === runId));
    const completed = service.events.filter((event) => event.data.type === 'assistant_message_completed' && event.data.run_id === runId);
    assert.deepEqual(completed.map((event) => event.data.content), [answer]);
    service.close();
    const resumed = await SseClient.open(`${server.url}/api/stream`, { token: user.token, lastEventId: Number(completed[0]!.id) - 1 });
    await resumed.waitFor((events) => events.some((event) => event.data.type === 'task_completed' && event.data.run_id === runId));
    assert.deepEqual(resumed.events.filter((event) => event.data.run_id === runId).map((event) => event.data.type), ['assistant_message_completed', 'task_completed']);
    resumed.close();
  });

  test('an uploaded text document is inlined into the prompt', async () => {
    const sessionId = await newSession();
    const form = new FormData();
    form.append('file', new Blob(['quarterly numbers: 42'], { type: 'text/plain' }), 'report.txt');
    const upload = await server.api('POST', '/api/v1/files', { token: user.token, raw: form });
    fake.enqueue({ text: 'the number is 42' });
    const finalStream = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, {
      token: user.token,
      method: 'POST',
      body: { content: 'summarize the attachment', attachments: [{ file_id: upload.body.file_id }] },
    });
    await finalStream.waitForEnd();
    const lastRequest = fake.requests.at(-1)!.body as { messages: Array<{ role: string; content: unknown }> };
    const userMessage = lastRequest.messages.filter((message) => message.role === 'user').at(-1)!;
    assert.match(JSON.stringify(userMessage.content), /quarterly numbers: 42/);
    assert.match(JSON.stringify(userMessage.content), /report\.txt/);
  });
});

describe('chat with an Anthropic Messages model', () => {
  test('thinking, tool_use with input_json_delta, text and done end to end', async () => {
    const fake = await startFakeAnthropic();
    const server = await startTestServer({ toml: `${fakeProviderToml(fake.baseUrl, { type: 'anthropic' })}\n${LIMITS}` });
    try {
      const user = await registerUser(server.api);
      const session = await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } });
      fake.enqueue(
        { reasoning: 'Let me think about the file.', toolCalls: [{ name: 'file_write', arguments: { path: 'claude.txt', content: 'from claude' } }] },
        { text: 'Saved claude.txt.' },
      );
      const stream = await SseClient.open(`${server.url}/api/v1/chat/${session.body.id}/message`, { token: user.token, method: 'POST', body: { content: 'save a file' } });
      await stream.waitForEnd();
      const names = stream.events.map((event) => event.event);
      assert.ok(names.includes('thinking'));
      const reasoning = stream.events.filter((event) => event.event === 'thinking').map((event) => event.data.reasoning).join('');
      assert.equal(reasoning, 'Let me think about the file.');
      assert.deepEqual(stream.events.find((event) => event.event === 'tool_call')!.data.args, { path: 'claude.txt', content: 'from claude' });
      assert.equal(stream.events.at(-1)!.event, 'done');
      assert.equal(stream.events.at(-1)!.data.content, 'Saved claude.txt.');
      assert.equal(readFileSync(join(server.environment.dir, 'data', 'workspaces', session.body.id, 'claude.txt'), 'utf8'), 'from claude');
      const second = fake.requests.at(-1)!.body as { messages: Array<{ role: string; content: Array<{ type: string }> }> };
      assert.ok(second.messages.some((message) => message.role === 'user' && Array.isArray(message.content) && message.content.some((block) => block.type === 'tool_result')));
    } finally {
      await server.shutdown();
      await fake.close();
    }
  });
});
