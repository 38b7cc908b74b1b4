import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventSource } from 'eventsource';
import { startFakeOpenAI } from './support/fake-openai.js';
import { fakeProviderToml } from './support/fake-provider-config.js';
import { registerUser, startTestServer, TestEnvironment } from './support/server.js';
import { startFakeModelServer } from './support/fake-model-server.js';
import { SseClient, type SseEvent } from './support/sse.js';
import { waitUntil } from './support/wait.js';

type Fake = Awaited<ReturnType<typeof startFakeOpenAI>>;
type Fixture = Awaited<ReturnType<typeof startFakeModelServer>>;
const LIMITS = '[limits]\nrequests_per_minute = 100000\nsse_concurrent = 3';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ids must be unique and increasing; the union of the parts must equal the full list. */
function assertSeamless(parts: SseEvent[][], full: SseEvent[]): void {
  const seen = parts.flat().map((event) => event.id);
  assert.equal(new Set(seen).size, seen.length, 'no duplicate ids');
  assert.deepEqual(seen, full.map((event) => event.id), 'received ∪ replayed = the full log, in order');
  assert.deepEqual(parts.flat().map((event) => event.raw), full.map((event) => event.raw));
}

describe('Service API', () => {
  let fake: Fake;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => {
    fake = await startFakeOpenAI();
    server = await startTestServer({ toml: `${fakeProviderToml(fake.baseUrl)}\n${LIMITS}` });
  });
  after(async () => {
    await server.shutdown();
    await fake.close();
  });

  test("the seed's walkthrough: EventSource on /api/stream, execute, deltas, completion, status", async () => {
    const received: any[] = [];
    const source = new EventSource(`${server.url}/api/stream`);
    await new Promise<void>((resolve, reject) => {
      source.onopen = () => resolve();
      source.onerror = (error) => reject(error);
    });
    source.onmessage = (message) => received.push({ id: message.lastEventId, ...JSON.parse(message.data) });

    fake.enqueue({ text: 'Hello! I am here to help with your test script today.', tokenDelayMs: 25 });
    const execute = await server.api('POST', '/api/execute', { body: { prompt: 'hello from test script' } });
    assert.equal(execute.status, 200);
    assert.equal(execute.body.success, true);
    assert.equal(execute.body.error, null);
    assert.equal(execute.body.data.status, 'started');
    assert.ok(Math.abs(execute.body.data.timestamp - Date.now() / 1000) < 5);
    const taskId = execute.body.data.task_id;

    const during = await server.api('GET', '/api/status');
    assert.equal(during.body.data.state, 'Running');
    assert.equal(during.body.data.is_running, true);
    assert.equal(during.body.data.current_task_id, taskId);

    await waitUntil(async () => received.some((event) => event.type === 'task_completed'));
    source.close();
    const types = received.map((event) => event.type);
    assert.equal(types[0], 'task_started');
    assert.equal(types[1], 'user_message');
    assert.equal(types.at(-1), 'task_completed');
    // run_id on every frame; task_id only where the seed shows it.
    assert.ok(received.every((event) => event.run_id === taskId && event.session_id === during.body.data.session_id));
    assert.ok(received.every((event) => (['task_started', 'task_completed'].includes(event.type) ? event.task_id === taskId : !('task_id' in event))));
    assert.equal(received[0].task_kind, 'execute');
    assert.equal(received[1].content, 'hello from test script');
    const deltas = received.filter((event) => event.type === 'assistant_message_delta').map((event) => event.delta).join('');
    const completed = received.find((event) => event.type === 'assistant_message_completed');
    assert.equal(deltas, completed.content);
    assert.equal(completed.content, 'Hello! I am here to help with your test script today.');
    const finished = received.at(-1);
    assert.equal(finished.success, true);
    assert.equal(finished.turns, 1);
    assert.equal(typeof finished.duration_ms, 'number');
    assert.ok(received.every((event) => /^\d+$/.test(event.id)));

    const idle = await server.api('GET', '/api/status');
    assert.deepEqual({ state: idle.body.data.state, is_running: idle.body.data.is_running, queued: idle.body.data.queued }, { state: 'Idle', is_running: false, queued: 0 });

    const task = await server.api('GET', `/api/tasks/${taskId}`);
    assert.equal(task.body.data.status, 'completed');
    assert.equal(task.body.data.answer, completed.content);
    assert.equal(task.body.data.turns, 1);
    assert.equal(task.body.data.prompt, 'hello from test script');
    // The service session is an ordinary session of the local user.
    const session = await server.api('GET', '/api/tasks?limit=5');
    assert.equal(session.body.data.items[0].task_id, taskId);
    assert.ok(session.body.data.total >= 1);
  });

  test('a second execute is queued FIFO and runs after the first; cancel stops a queued and a running task', async () => {
    fake.enqueue({ text: 'first answer here', tokenDelayMs: 30 }, { text: 'second answer' });
    const first = await server.api('POST', '/api/execute', { body: { prompt: 'one' } });
    const second = await server.api('POST', '/api/execute', { body: { prompt: 'two' } });
    assert.equal(first.body.data.status, 'started');
    assert.equal(second.body.data.status, 'queued');
    const status = await server.api('GET', '/api/status');
    assert.equal(status.body.data.queued, 1);
    await waitUntil(async () => (await server.api('GET', `/api/tasks/${second.body.data.task_id}`)).body.data.status === 'completed');
    const firstTask = await server.api('GET', `/api/tasks/${first.body.data.task_id}`);
    const secondTask = await server.api('GET', `/api/tasks/${second.body.data.task_id}`);
    assert.equal(firstTask.body.data.answer, 'first answer here');
    assert.equal(secondTask.body.data.answer, 'second answer');
    assert.ok(secondTask.body.data.started_at >= firstTask.body.data.finished_at);

    // Cancel: a running task ends with stream_error then task_completed{success:false}; a queued one never starts.
    const stream = await SseClient.open(`${server.url}/api/stream`);
    fake.enqueue({ tokens: 5000, tokenDelayMs: 20 });
    const running = await server.api('POST', '/api/execute', { body: { prompt: 'long' } });
    const queued = await server.api('POST', '/api/execute', { body: { prompt: 'never' } });
    const cancelQueued = await server.api('POST', '/api/cancel', { body: { task_id: queued.body.data.task_id } });
    assert.deepEqual(cancelQueued.body.data, { cancelled: true, task_id: queued.body.data.task_id });
    await stream.waitFor((events) => events.some((event) => event.data.type === 'assistant_message_delta'));
    const started = Date.now();
    const cancelRunning = await server.api('POST', '/api/cancel', { body: {} });
    assert.equal(cancelRunning.body.data.task_id, running.body.data.task_id);
    await stream.waitFor((events) => events.some((event) => event.data.type === 'task_completed' && event.data.run_id === running.body.data.task_id), 2000);
    assert.ok(Date.now() - started < 2000);
    stream.close();
    const tail = stream.events.map((event) => event.data).filter((event) => event.run_id === running.body.data.task_id);
    const errorIndex = tail.findIndex((event) => event.type === 'stream_error');
    assert.ok(errorIndex >= 0);
    assert.equal(tail.at(-1).type, 'task_completed');
    assert.equal(tail.at(-1).success, false);
    assert.ok(!stream.events.some((event) => event.data.run_id === queued.body.data.task_id), 'the cancelled queued task never started');
    assert.equal((await server.api('GET', `/api/tasks/${queued.body.data.task_id}`)).body.data.status, 'cancelled');
    assert.equal((await server.api('GET', `/api/tasks/${running.body.data.task_id}`)).body.data.status, 'cancelled');
    assert.equal((await server.api('GET', '/api/status')).body.data.state, 'Idle');
  });

  test('tasks submitted while the running one ends are never left queued: each runs, in order', async () => {
    // The race: a submission sees the task running and queues; the task's end, committed meanwhile, saw nothing queued.
    for (let round = 0; round < 10; round++) {
      for (let index = 0; index < 8; index++) fake.enqueue({ text: `answer ${round}.${index}` });
      const tasks = await Promise.all(Array.from({ length: 8 }, (_, index) => server.api('POST', '/api/execute', { body: { prompt: `task ${round}.${index}` } })));
      const ids = tasks.map((task) => task.body.data.task_id as string);
      await waitUntil(async () => {
        const states = await Promise.all(ids.map(async (id) => (await server.api('GET', `/api/tasks/${id}`)).body.data.status));
        return states.every((state) => state === 'completed');
      }, 10_000);
      const finished = await Promise.all(ids.map(async (id) => (await server.api('GET', `/api/tasks/${id}`)).body.data));
      assert.deepEqual(new Set(finished.map((task) => task.answer)).size, 8, 'each task its own answer');
    }
  });

  test('bad Service API input gets the envelope', async () => {
    const missing = await server.api('POST', '/api/execute', { body: {} });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.success, false);
    assert.equal(missing.body.data, null);
    assert.match(missing.body.error, /prompt/);
    const malformed = await server.api('POST', '/api/execute', { raw: '{"prompt":', headers: { 'content-type': 'application/json' } });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.success, false);
    const unknownTask = await server.api('GET', '/api/tasks/nope');
    assert.equal(unknownTask.status, 404);
    assert.equal(unknownTask.body.success, false);
    const badCursor = await server.api('GET', '/api/stream?last_event_id=abc');
    assert.equal(badCursor.status, 400);
  });

  test('/api/stream resumes with Last-Event-ID across a disconnect: no gap, no duplicate', async () => {
    const before = await SseClient.open(`${server.url}/api/stream`);
    fake.enqueue({ text: 'alpha beta gamma delta epsilon zeta eta theta iota kappa', tokenDelayMs: 30 });
    await server.api('POST', '/api/execute', { body: { prompt: 'resume me' } });
    await before.waitFor((events) => events.filter((event) => event.data.type === 'assistant_message_delta').length >= 3);
    before.close();
    const part1 = [...before.events];
    const resumed = await SseClient.open(`${server.url}/api/stream`, { lastEventId: part1.at(-1)!.id });
    await resumed.waitForEvent('task_completed');
    resumed.close();
    const full = await SseClient.open(`${server.url}/api/stream`, { lastEventId: Number(part1[0]!.id) - 1 });
    await full.waitForEvent('task_completed');
    full.close();
    const upToCompletion = (events: SseEvent[]) => events.slice(0, events.findIndex((event) => event.data.type === 'task_completed') + 1);
    assertSeamless([part1, upToCompletion(resumed.events)], upToCompletion(full.events));
  });
});

describe('session stream', () => {
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
  const streamUrl = (sessionId: string, query = '') => `${server.url}/api/v1/sessions/${sessionId}/stream${query}`;

  test('without a cursor: a status event, then live events of every run; with a cursor: replay then live, seamless', async () => {
    const sessionId = await newSession();
    const live = await SseClient.open(streamUrl(sessionId), { token: user.token });
    await live.waitForEvent('status');
    assert.deepEqual(live.events[0]!.data, { session_status: 'created', run: null, pending_approvals: [] });
    assert.equal(live.events[0]!.id, '0');

    fake.enqueue({ text: 'one two three four five six seven eight', tokenDelayMs: 30 });
    const chat = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token: user.token, method: 'POST', body: { content: 'go' } });
    await live.waitFor((events) => events.filter((event) => event.event === 'content').length >= 3);
    live.close();
    const part1 = live.events.slice(1);
    const resumed = await SseClient.open(streamUrl(sessionId), { token: user.token, lastEventId: part1.at(-1)!.id });
    await resumed.waitForEvent('done');
    await chat.waitForEnd();
    const replayAll = await SseClient.open(streamUrl(sessionId, '?last_event_id=0'), { token: user.token });
    await replayAll.waitForEvent('done');
    await sleep(100);
    replayAll.close();
    resumed.close();
    assertSeamless([part1, resumed.events], replayAll.events);
    // The chat response and the session stream carry the same ids for the same events.
    const chatIds = chat.events.map((event) => event.id);
    assert.ok(chatIds.every((id) => replayAll.events.some((event) => event.id === id)));
  });

  test('a cursor from the future gets reset with the status payload', async () => {
    const sessionId = await newSession();
    const stream = await SseClient.open(streamUrl(sessionId), { token: user.token, lastEventId: 999 });
    await stream.waitForEvent('reset');
    assert.deepEqual(stream.events[0]!.data, { session_status: 'created', run: null, pending_approvals: [] });
    stream.close();
  });

  test('auth: bearer or single-use ticket; no token 401; foreign 403; concurrent stream limit 429', async () => {
    const sessionId = await newSession();
    const anonymous = await SseClient.open(streamUrl(sessionId));
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.errorBody.error_code, 'UNAUTHORIZED');
    const other = await registerUser(server.api);
    const foreign = await SseClient.open(streamUrl(sessionId), { token: other.token });
    assert.equal(foreign.status, 403);

    const ticket = (await server.api('POST', '/api/v1/auth/stream-ticket', { token: user.token })).body.ticket;
    const withTicket = await SseClient.open(streamUrl(sessionId, `?ticket=${ticket}`));
    assert.equal(withTicket.status, 200);
    await withTicket.waitForEvent('status');
    const reused = await SseClient.open(streamUrl(sessionId, `?ticket=${ticket}`));
    assert.equal(reused.status, 401);
    // Tickets are for SSE only.
    const ticket2 = (await server.api('POST', '/api/v1/auth/stream-ticket', { token: user.token })).body.ticket;
    assert.equal((await server.api('GET', `/api/v1/auth/me?ticket=${ticket2}`)).status, 401);

    // Limit is 3 in this config: the ticket stream holds one.
    const second = await SseClient.open(streamUrl(sessionId), { token: user.token });
    const third = await SseClient.open(streamUrl(sessionId), { token: user.token });
    const fourth = await SseClient.open(streamUrl(sessionId), { token: user.token });
    assert.equal(second.status, 200);
    assert.equal(third.status, 200);
    assert.equal(fourth.status, 429);
    assert.equal(fourth.errorBody.error_code, 'RATE_LIMITED');
    assert.ok(fourth.headers!.get('retry-after'));
    // Closing one frees its slot.
    third.close();
    await waitUntil(async () => {
      const next = await SseClient.open(streamUrl(sessionId), { token: user.token });
      next.close();
      return next.status === 200;
    });
    withTicket.close();
    second.close();
  });
});

describe('streams across a server restart', () => {
  test('a run interrupted by a restart resumes; both streams resume by cursor with no gap and no duplicate', async () => {
    const fake = await startFakeOpenAI();
    const environment = await TestEnvironment.create();
    const toml = `${fakeProviderToml(fake.baseUrl)}\n${LIMITS}`;
    let server = await environment.spawn({ toml });
    try {
      const user = await registerUser(server.api);
      const sessionId = (await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;
      const words = Array.from({ length: 40 }, (_, index) => `w${index}`).join(' ');
      // The first attempt is interrupted by the restart; the resumed run asks the model again.
      fake.enqueue({ text: words, tokenDelayMs: 40 }, { text: 'resumed answer after restart' });
      const sessionStream = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream`, { token: user.token });
      const serviceStream = await SseClient.open(`${server.url}/api/stream`, { token: user.token });
      const chat = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token: user.token, method: 'POST', body: { content: 'survive a restart' } });
      await sessionStream.waitFor((events) => events.filter((event) => event.event === 'content').length >= 5);
      await serviceStream.waitFor((events) => events.filter((event) => event.data.type === 'assistant_message_delta').length >= 5);

      await server.stop(); // graceful: the run stays resumable
      await Promise.all([sessionStream.waitForEnd(), serviceStream.waitForEnd(), chat.waitForEnd()]);
      assert.ok(sessionStream.comments.some((comment) => /shutting down/.test(comment)));

      server = await environment.spawn({ toml });
      const sessionPart1 = sessionStream.events.slice(1);
      const servicePart1 = serviceStream.events;
      const sessionResumed = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream`, { token: user.token, lastEventId: sessionPart1.at(-1)!.id });
      const serviceResumed = await SseClient.open(`${server.url}/api/stream`, { token: user.token, lastEventId: servicePart1.at(-1)!.id });
      assert.equal(sessionResumed.status, 200, JSON.stringify(sessionResumed.errorBody));
      await sessionResumed.waitForEvent('done', 20_000);
      await serviceResumed.waitForEvent('task_completed', 20_000);
      await sleep(100);
      sessionResumed.close();
      serviceResumed.close();
      const done = sessionResumed.events.find((event) => event.event === 'done')!;
      assert.equal(done.data.content, 'resumed answer after restart');
      const sessionFull = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream?last_event_id=0`, { token: user.token });
      await sessionFull.waitForEvent('done');
      await sleep(100);
      sessionFull.close();
      const serviceFull = await SseClient.open(`${server.url}/api/stream`, { token: user.token, lastEventId: Number(servicePart1[0]!.id) - 1 });
      await serviceFull.waitForEvent('task_completed');
      await sleep(100);
      for (const client of [sessionResumed, serviceResumed, sessionFull, serviceFull]) client.close();
      assertSeamless([sessionPart1, sessionResumed.events], sessionFull.events);
      assertSeamless([servicePart1, serviceResumed.events], serviceFull.events);

      const session = await server.api('GET', `/api/v1/sessions/${sessionId}`, { token: user.token });
      assert.equal(session.body.status, 'completed');
    } finally {
      await server.stop();
      await environment.destroy();
      await fake.close();
    }
  });

  test('after a crash (SIGKILL) mid-run the run is resumed, never left running', async () => {
    const fake = await startFakeOpenAI();
    const environment = await TestEnvironment.create();
    const toml = `${fakeProviderToml(fake.baseUrl)}\n${LIMITS}`;
    let server = await environment.spawn({ toml });
    try {
      fake.enqueue({ tokens: 2000, tokenDelayMs: 10 }, { text: 'answer after crash' });
      const execute = await server.api('POST', '/api/execute', { body: { prompt: 'crash test' } });
      const taskId = execute.body.data.task_id;
      await waitUntil(async () => fake.requests.length >= 1);
      await sleep(200);
      await server.kill();
      server = await environment.spawn({ toml });
      await waitUntil(async () => (await server.api('GET', `/api/tasks/${taskId}`)).body.data.status === 'completed', 20_000);
      const task = await server.api('GET', `/api/tasks/${taskId}`);
      assert.equal(task.body.data.answer, 'answer after crash');
      assert.equal((await server.api('GET', '/api/status')).body.data.state, 'Idle');
    } finally {
      await server.stop();
      await environment.destroy();
      await fake.close();
    }
  });
});

describe('stream retention, back-pressure and local mode', () => {
  test('a cursor into compacted history gets reset, then live', async () => {
    const fake = await startFakeOpenAI();
    const server = await startTestServer({ toml: `${fakeProviderToml(fake.baseUrl)}\n${LIMITS}\n[events]\ncompact_after_s = 1` });
    try {
      const user = await registerUser(server.api);
      const sessionId = (await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;
      fake.enqueue({ text: 'some words to compact away' });
      const chat = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token: user.token, method: 'POST', body: { content: 'go' } });
      await chat.waitForEnd();
      const firstContent = chat.events.find((event) => event.event === 'content')!;
      await waitUntil(async () => {
        const replay = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream`, { token: user.token, lastEventId: Number(firstContent.id) - 1 });
        await replay.waitFor((events) => events.length > 0);
        replay.close();
        return replay.events[0]!.event === 'reset';
      }, 10_000);
      const reset = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream`, { token: user.token, lastEventId: 1 });
      await reset.waitForEvent('reset');
      assert.deepEqual(reset.events[0]!.data, { session_status: 'completed', run: null, pending_approvals: [] });
      // Structural events survive compaction: a cursor after the deltas still replays `done`.
      const lastContent = chat.events.filter((event) => event.event === 'content').at(-1)!;
      const tail = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream`, { token: user.token, lastEventId: lastContent.id });
      await tail.waitForEvent('done');
      tail.close();
      reset.close();
    } finally {
      await server.shutdown();
      await fake.close();
    }
  });

  test('a client that stops reading is disconnected instead of buffering without bound', async () => {
    const fake = await startFakeOpenAI();
    const server = await startTestServer({ toml: `${fakeProviderToml(fake.baseUrl)}\n${LIMITS}\nsse_buffer_max_bytes = 65536` });
    try {
      const user = await registerUser(server.api);
      const sessionId = (await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;
      const { connect } = await import('node:net');
      const url = new URL(server.url);
      const socket = connect({ host: url.hostname, port: Number(url.port) });
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(`GET /api/v1/sessions/${sessionId}/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\nAccept: text/event-stream\r\n\r\n`);
      await new Promise((resolve) => socket.once('data', resolve));
      socket.pause(); // a stalled client: nothing more is read
      const slots = server.inProcess!.context.sseSlots;
      assert.equal(slots.open, 1);
      fake.enqueue({ tokens: 40_000, tokenText: 'x'.repeat(400) });
      const chat = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token: user.token, method: 'POST', body: { content: 'flood' } });
      chat.close();
      // A paused socket does not notice the reset, so watch the server side: the stalled stream's slot is freed.
      await waitUntil(async () => slots.open === 0, 30_000);
      socket.destroy();
      await waitUntil(async () => (await server.api('GET', `/api/v1/sessions/${sessionId}`, { token: user.token })).body.status === 'completed', 30_000);
    } finally {
      await server.shutdown();
      await fake.close();
    }
  });

  test('with local mode off, /api/* needs a token like everything else', async () => {
    const server = await startTestServer({ toml: '[auth]\nlocal_mode = false' });
    try {
      const anonymous = await server.api('GET', '/api/status');
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.body.success, false);
      const stream = await SseClient.open(`${server.url}/api/stream`);
      assert.equal(stream.status, 401);
      const user = await registerUser(server.api);
      const status = await server.api('GET', '/api/status', { token: user.token });
      assert.equal(status.status, 200);
      assert.equal(status.body.data.state, 'Idle');
      // The health check stays open.
      assert.equal((await server.api('GET', '/api/health')).status, 200);
    } finally {
      await server.shutdown();
    }
  });
});
