import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeOpenAI } from './support/fake-openai.js';
import { fakeProviderToml } from './support/fake-provider-config.js';
import { rawGet, rawRequest, type RawResponse } from './support/raw-http.js';
import { registerUser, startTestServer, TestEnvironment } from './support/server.js';
import { SseClient } from './support/sse.js';

const LIMITS = '[limits]\nrequests_per_minute = 100000';

const waitUntil = async (check: () => Promise<boolean> | boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
};

function assertV1Error(response: RawResponse, status: number, context: string) {
  assert.equal(response.status, status, `${context}: ${response.body}`);
  assert.equal(typeof response.json?.error_code, 'string', `${context}: TokenDance error body expected, got ${response.body}`);
  assert.equal(typeof response.json?.detail, 'string', context);
  assert.match(response.headers['x-request-id'] ?? '', /.+/, `${context}: X-Request-Id`);
}

function assertServiceError(response: RawResponse, status: number, context: string) {
  assert.equal(response.status, status, `${context}: ${response.body}`);
  assert.deepEqual(Object.keys(response.json ?? {}).sort(), ['data', 'error', 'success'], `${context}: envelope expected, got ${response.body}`);
  assert.equal(response.json.success, false, context);
  assert.match(response.headers['x-request-id'] ?? '', /.+/, `${context}: X-Request-Id`);
}

describe('paths: surface and auth come from the route, never from how the path is spelled', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let victim: Awaited<ReturnType<typeof registerUser>>;
  let victimSession: string;
  before(async () => {
    server = await startTestServer({ toml: LIMITS });
    victim = await registerUser(server.api);
    victimSession = (await server.api('POST', '/api/v1/sessions', { token: victim.token, body: { workspace_id: victim.workspaceId } })).body.id;
  });
  after(() => server.shutdown());

  test('encoded spellings of /api/v1 get no local-mode identity (401 in the TokenDance body)', async () => {
    const encodings = ['/api/%761', '/api/v%31', '/api/%76%31', '/api/%56%31'.replace('%56', '%76'), '/api/V%31'.replace('V', 'v')];
    for (const prefix of encodings) {
      assertV1Error(await rawGet(server.url, `${prefix}/auth/me`), 401, `${prefix}/auth/me`);
      assertV1Error(await rawGet(server.url, `${prefix}/workspaces`), 401, `${prefix}/workspaces`);
      assertV1Error(await rawGet(server.url, `${prefix}/sessions/${victimSession}`), 401, `${prefix}/sessions/<other user's>`);
      const body = JSON.stringify({ workspace_id: victim.workspaceId });
      const post = await rawRequest(
        server.url,
        `POST ${prefix}/sessions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
      assertV1Error(post, 401, `POST ${prefix}/sessions`);
    }
  });

  test('other spellings never reach a TokenDance route without a token, and answer in their surface body', async () => {
    const v1Spellings = ['/api//v1/auth/me', '/api/./v1/auth/me', '/api/v1/./auth/me', '/api/v1/auth/me/', '/API/v1/auth/me', '/api/V1/auth/me', '/api%2Fv1/auth/me', '/api/v1%2Fauth/me', '/api/%2e/v1/auth/me', '/api/v1/x/%2e%2e/auth/me'];
    for (const path of v1Spellings) {
      const response = await rawGet(server.url, path);
      assert.ok(response.status === 401 || response.status === 404, `${path}: ${response.status}`);
      assertV1Error(response, response.status, path);
    }
    // Double encoding is decoded once, like the router does: it names no route under /api/v1.
    for (const path of ['/api/%2576%2531/auth/me', '/api/%25761/workspaces']) {
      assertServiceError(await rawGet(server.url, path), 404, path);
    }
  });

  test('encoded spellings of Service API routes stay on the Service API', async () => {
    const health = await rawGet(server.url, '/api/%68ealth');
    assert.equal(health.status, 200);
    assert.equal(health.json.success, true);
    const status = await rawGet(server.url, '/api/st%61tus');
    assert.equal(status.status, 200, status.body);
    assert.equal(status.json.data.state, 'Idle');
  });

  test('GET /api/v1?x=1 and GET /api answer in their own surface body', async () => {
    assertV1Error(await rawGet(server.url, '/api/v1?x=1'), 404, '/api/v1?x=1');
    assertV1Error(await rawGet(server.url, '/api/v1/'), 404, '/api/v1/');
    assertServiceError(await rawGet(server.url, '/api'), 404, '/api');
    assertServiceError(await rawGet(server.url, '/api?x=/api/v1/'), 404, '/api?x=');
  });

  test('framework errors carry their surface body and X-Request-Id: bad URL, long ids, huge headers', async () => {
    assertV1Error(await rawGet(server.url, '/api/v1/workspaces/%ff%fe', victim.token), 400, '%ff%fe');
    assertServiceError(await rawGet(server.url, '/api/tasks/%ff%fe'), 400, 'service %ff%fe');
    // The router takes ids as long as the schema allows (200): those are unknown, longer ones invalid.
    for (const length of [101, 150, 200]) assertV1Error(await rawGet(server.url, `/api/v1/sessions/${'a'.repeat(length)}`, victim.token), 404, `id of ${length}`);
    for (const length of [201, 500]) assertV1Error(await rawGet(server.url, `/api/v1/sessions/${'a'.repeat(length)}`, victim.token), 400, `id of ${length}`);
    assertV1Error(await rawGet(server.url, `/api/v1/sessions/${'a'.repeat(600)}`, victim.token), 414, 'id of 600');
    const bigHeader = `X-Big: ${'a'.repeat(17_000)}\r\n`;
    assertV1Error(await rawGet(server.url, '/api/v1/workspaces', victim.token, bigHeader), 431, '431 on /api/v1');
    assertServiceError(await rawGet(server.url, '/api/status', undefined, bigHeader), 431, '431 on /api');
    assertV1Error(await rawRequest(server.url, 'GARBAGE\r\n\r\n'), 400, 'garbage request line');
  });
});

describe('NUL characters: a clear 400 on both databases, never a 500', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let user: Awaited<ReturnType<typeof registerUser>>;
  let fake: Awaited<ReturnType<typeof startFakeOpenAI>>;
  before(async () => {
    fake = await startFakeOpenAI();
    server = await startTestServer({ toml: `${fakeProviderToml(fake.baseUrl)}\n${LIMITS}` });
    user = await registerUser(server.api);
  });
  after(async () => {
    await server.shutdown();
    await fake.close();
  });

  test('in identifiers, query values and bodies, with and without a token', async () => {
    const checks: Array<[string, string, unknown, string | undefined]> = [
      ['POST', '/api/v1/auth/login', { email: '\u0000', password: 'whatever1' }, undefined],
      ['POST', '/api/v1/auth/register', { email: 'a\u0000@example.com', password: 'whatever1' }, undefined],
      ['POST', '/api/execute', { prompt: 'a\u0000b' }, undefined],
      ['GET', '/api/v1/sessions/%00', undefined, user.token],
      ['POST', '/api/v1/sessions', { workspace_id: user.workspaceId, title: 'x\u0000y' }, user.token],
      ['POST', '/api/v1/workspaces', { name: 'w\u0000' }, user.token],
      ['GET', `/api/v1/sessions?workspace_id=${user.workspaceId}%00`, undefined, user.token],
      ['GET', '/api/v1/sessions?workspace_id=%00', undefined, user.token],
      ['POST', '/api/v1/workspaces', { name: 'ok', ['k\u0000']: 1 }, user.token],
    ];
    for (const [method, path, body, token] of checks) {
      const response = await server.api(method, path, { body, token });
      assert.equal(response.status, 400, `${method} ${path}: ${response.text}`);
      if (path.startsWith('/api/v1')) assert.equal(response.body.error_code, 'VALIDATION_ERROR');
      else assert.equal(response.body.success, false);
    }
    const session = (await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;
    const before = await server.api('GET', `/api/v1/sessions/${session}/messages?before=%00`, { token: user.token });
    assert.equal(before.status, 400, before.text);
    const patch = await server.api('PATCH', `/api/v1/sessions/${session}`, { token: user.token, body: { title: '\u0000' } });
    assert.equal(patch.status, 400);
  });

  test('NUL in model output is stored and streamed without breaking the run', async () => {
    const session = (await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;
    fake.enqueue({ text: 'before\u0000after' });
    const chat = await SseClient.open(`${server.url}/api/v1/chat/${session}/message`, { token: user.token, method: 'POST', body: { content: 'go' } });
    await chat.waitForEnd();
    const done = chat.events.find((event) => event.event === 'done');
    assert.ok(done, JSON.stringify(chat.events.map((event) => event.event)));
    const messages = await server.api('GET', `/api/v1/sessions/${session}/messages`, { token: user.token });
    assert.equal(messages.status, 200);
    assert.equal(messages.body.items.at(-1).content, 'before\uFFFDafter');
  });
});

describe('uploads and attachments: malformed input is a 400, never a hang or a 500', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let user: Awaited<ReturnType<typeof registerUser>>;
  before(async () => {
    server = await startTestServer({ toml: `${LIMITS}\nuploads_per_minute = 1000`, env: { TOKENDANCE_SERVER_REQUEST_TIMEOUT_S: '5' } });
    user = await registerUser(server.api);
  });
  after(() => server.shutdown());

  test('a truncated multipart body ends with a 400', async () => {
    const body = '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--';
    const started = Date.now();
    const response = await rawRequest(
      server.url,
      `POST /api/v1/files HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${user.token}\r\nContent-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    assertV1Error(response, 400, 'truncated multipart');
    assert.ok(Date.now() - started < 5000);
  });

  test('multipart without a boundary is a 400', async () => {
    const response = await server.api('POST', '/api/v1/files', { token: user.token, raw: 'hello', headers: { 'content-type': 'multipart/form-data' } });
    assert.equal(response.status, 400, response.text);
    assert.equal(response.body.error_code, 'VALIDATION_ERROR');
  });

  test('a data URL attachment with bad percent-encoding is a 400', async () => {
    const session = (await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;
    for (const url of ['data:text/plain,%', 'data:text/plain,%ZZ', 'data:text/plain,a%E0%A4%A']) {
      const response = await server.api('POST', `/api/v1/chat/${session}/message`, { token: user.token, body: { content: 'see', attachments: [{ type: 'document', url }] } });
      assert.equal(response.status, 400, `${url}: ${response.text}`);
      assert.equal(response.body.error_code, 'VALIDATION_ERROR');
    }
  });
});

describe('connections: slow and idle clients are closed, SSE streams are not', () => {
  test('150 half-sent requests are all closed after the header timeout; an SSE stream outlives it', async () => {
    const server = await startTestServer({
      toml: `${LIMITS}\nsse_concurrent = 5\n[events]\nheartbeat_s = 0.5`,
      env: { TOKENDANCE_SERVER_HEADERS_TIMEOUT_S: '1', TOKENDANCE_SERVER_REQUEST_TIMEOUT_S: '2', TOKENDANCE_SERVER_KEEP_ALIVE_TIMEOUT_S: '1' },
    });
    try {
      const user = await registerUser(server.api);
      const stream = await SseClient.open(`${server.url}/api/stream`, { token: user.token });
      assert.equal(stream.status, 200);
      const url = new URL(server.url);
      let closedCount = 0;
      const sockets = await Promise.all(
        Array.from({ length: 150 }, (_, index) =>
          new Promise<{ closed: Promise<void> }>((resolve) => {
            const socket = connect({ host: url.hostname, port: Number(url.port) }, () => {
              // Half a request head (or half a body): the server must not wait forever for the rest.
              socket.write(index % 2 === 0 ? 'GET /api/health HTTP/1.1\r\nHost: t\r\n' : 'POST /api/execute HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"pro');
              resolve({ closed: new Promise((done) => socket.on('close', () => { closedCount++; done(); })) });
            });
            socket.on('error', () => {});
            socket.on('data', () => {});
          }),
        ),
      );
      const idle = connect({ host: url.hostname, port: Number(url.port) });
      idle.on('error', () => {});
      idle.on('data', () => {});
      const idleClosed = new Promise<void>((resolve) => idle.on('close', () => resolve()));
      const started = Date.now();
      await Promise.race([Promise.all([...sockets.map((socket) => socket.closed), idleClosed]), sleep(8000).then(() => assert.fail(`sockets still open after 8 s: ${150 - closedCount} of 150`))]);
      assert.ok(Date.now() - started >= 500, 'closed by the timeout, not at once');
      // The SSE stream is still alive past every timeout: pings keep arriving.
      const pings = stream.comments.length;
      await sleep(1200);
      assert.ok(stream.comments.length > pings, 'the SSE stream still receives pings');
      assert.equal(stream.ended, false);
      stream.close();
    } finally {
      await server.shutdown();
    }
  });
});

describe('SSE: first line at once, tickets always spent, replay of any size, CORS', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let fake: Awaited<ReturnType<typeof startFakeOpenAI>>;
  before(async () => {
    fake = await startFakeOpenAI();
    server = await startTestServer({
      toml: `${fakeProviderToml(fake.baseUrl)}\n${LIMITS}\nsse_buffer_max_bytes = 65536\nsse_stall_timeout_s = 1`,
      env: { TOKENDANCE_SERVER_CORS_ORIGINS: 'http://app.example' },
    });
  });
  after(async () => {
    await server.shutdown();
    await fake.close();
  });

  test('every SSE endpoint writes its headers and a first comment at once', async () => {
    const user = await registerUser(server.api);
    const session = (await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;
    fake.enqueue({ headerDelayMs: 1500, text: 'slow' });
    for (const [path, method, body] of [
      [`/api/v1/sessions/${session}/stream?last_event_id=0`, 'GET', undefined],
      ['/api/stream', 'GET', undefined],
      [`/api/v1/chat/${session}/message`, 'POST', { content: 'hi' }],
    ] as const) {
      const started = Date.now();
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${user.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const reader = response.body!.getReader();
      const first = await reader.read();
      assert.ok(Date.now() - started < 1000, `${path}: first bytes after ${Date.now() - started} ms`);
      assert.match(new TextDecoder().decode(first.value), /^: /, path);
      await reader.cancel();
    }
  });

  test('a ticket is spent wherever it is presented, even where local mode needs none; never accepted elsewhere', async () => {
    const user = await registerUser(server.api);
    const ticketFor = async () => (await server.api('POST', '/api/v1/auth/stream-ticket', { token: user.token })).body.ticket as string;
    const ticket = await ticketFor();
    const first = await SseClient.open(`${server.url}/api/stream?ticket=${ticket}`);
    assert.equal(first.status, 200);
    first.close();
    const second = await SseClient.open(`${server.url}/api/stream?ticket=${ticket}`);
    assert.equal(second.status, 401, 'a spent ticket is refused even in local mode');
    assert.equal(second.errorBody.success, false);
    const bogus = await SseClient.open(`${server.url}/api/stream?ticket=not-a-ticket`);
    assert.equal(bogus.status, 401);
    // The ticket's user, not the local user, is who the stream belongs to.
    const session = (await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;
    const sessionStream = await SseClient.open(`${server.url}/api/v1/sessions/${session}/stream?ticket=${await ticketFor()}`);
    assert.equal(sessionStream.status, 200);
    sessionStream.close();
    // Another user's bearer token with this user's ticket is refused.
    const other = await registerUser(server.api);
    const mixed = await SseClient.open(`${server.url}/api/stream?ticket=${await ticketFor()}`, { token: other.token });
    assert.equal(mixed.status, 401);
    // Outside SSE a ticket is refused, and a token in the query is never a credential.
    const elsewhere = await server.api('GET', `/api/status?ticket=${await ticketFor()}`);
    assert.equal(elsewhere.status, 401);
    assert.equal(elsewhere.body.success, false);
  });

  test('a replay far larger than the SSE buffer reaches a client that reads; a client that does not is cut', async () => {
    const user = await registerUser(server.api);
    const session = (await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;
    // About 8 MB of history in 2 000 deltas: 128x the 64 KB buffer limit, and more than loopback's kernel buffers hold.
    fake.enqueue({ tokens: 2000, tokenText: 'y'.repeat(4000), tokenDelayMs: 1 });
    // Generated without a live reader (closing the chat stream does not stop the run), so only replay is measured.
    const chat = await SseClient.open(`${server.url}/api/v1/chat/${session}/message`, { token: user.token, method: 'POST', body: { content: 'big' } });
    chat.close();
    await waitUntil(async () => (await server.api('GET', `/api/v1/sessions/${session}`, { token: user.token })).body.status === 'completed', 30_000);
    const expected = 2000;
    for (let attempt = 0; attempt < 2; attempt++) {
      const service = await SseClient.open(`${server.url}/api/stream`, { token: user.token, lastEventId: 0 });
      await service.waitFor((events) => events.some((event) => event.data.type === 'task_completed'), 20_000);
      assert.equal(service.events.filter((event) => event.data.type === 'assistant_message_delta').length, expected);
      service.close();
      const sessionReplay = await SseClient.open(`${server.url}/api/v1/sessions/${session}/stream`, { token: user.token, lastEventId: 0 });
      await sessionReplay.waitForEvent('done', 20_000);
      assert.equal(sessionReplay.events.filter((event) => event.event === 'content').length, expected);
      sessionReplay.close();
    }
    // A client that reads nothing is disconnected after sse_stall_timeout_s and frees its slot.
    const slots = server.inProcess!.context.sseSlots;
    await waitUntil(() => slots.open === 0);
    const url = new URL(server.url);
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`GET /api/stream HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${user.token}\r\nLast-Event-ID: 0\r\n\r\n`);
    await new Promise((resolve) => socket.once('data', resolve));
    socket.pause();
    await waitUntil(() => slots.open === 1);
    await waitUntil(() => slots.open === 0, 10_000);
    socket.destroy();
  });

  test('CORS: preflight and responses for listed origins only, SSE included', async () => {
    const preflight = await fetch(`${server.url}/api/v1/sessions`, {
      method: 'OPTIONS',
      headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://app.example');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/i);
    const user = await registerUser(server.api);
    const listed = await fetch(`${server.url}/api/v1/workspaces`, { headers: { origin: 'http://app.example', authorization: `Bearer ${user.token}` } });
    assert.equal(listed.headers.get('access-control-allow-origin'), 'http://app.example');
    assert.match(listed.headers.get('access-control-expose-headers') ?? '', /x-request-id/i);
    const unlisted = await fetch(`${server.url}/api/v1/workspaces`, { headers: { origin: 'http://evil.example', authorization: `Bearer ${user.token}` } });
    assert.equal(unlisted.headers.get('access-control-allow-origin'), null);
    const stream = await SseClient.open(`${server.url}/api/stream`, { token: user.token, headers: { origin: 'http://app.example' } });
    assert.equal(stream.headers?.get('access-control-allow-origin'), 'http://app.example');
    assert.match(stream.headers?.get('x-request-id') ?? '', /.+/);
    stream.close();
  });
});

describe('/api/stream seed fidelity and provider failures', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let fake: Awaited<ReturnType<typeof startFakeOpenAI>>;
  before(async () => {
    fake = await startFakeOpenAI();
    server = await startTestServer({ toml: `${fakeProviderToml(fake.baseUrl)}\n${LIMITS}` });
  });
  after(async () => {
    await server.shutdown();
    await fake.close();
  });

  test('task_id only on task_started and task_completed; run_id and session_id on every frame', async () => {
    const stream = await SseClient.open(`${server.url}/api/stream`);
    fake.enqueue({ toolCalls: [{ name: 'file_write', arguments: { path: 'a.txt', content: 'x' } }] }, { text: 'all done' });
    const execute = await server.api('POST', '/api/execute', { body: { prompt: 'go' } });
    const taskId = execute.body.data.task_id;
    await stream.waitFor((events) => events.some((event) => event.data.type === 'task_completed'), 10_000);
    stream.close();
    const types = new Set(stream.events.map((event) => event.data.type));
    for (const type of ['task_started', 'user_message', 'assistant_message_delta', 'assistant_message_completed', 'tool_call_started', 'tool_call_completed', 'task_completed']) {
      assert.ok(types.has(type), `missing ${type}`);
    }
    for (const event of stream.events) {
      assert.equal(event.data.run_id, taskId, event.raw);
      assert.equal(typeof event.data.session_id, 'string', event.raw);
      if (event.data.type === 'task_started' || event.data.type === 'task_completed') assert.equal(event.data.task_id, taskId);
      else assert.equal('task_id' in event.data, false, `task_id on ${event.data.type}`);
    }
  });

  test('retries are logged, told on the run stream, and a failing provider shows in /api/health', async () => {
    const user = await registerUser(server.api);
    const session = (await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;
    fake.enqueue({ status: 500 }, { status: 503 }, { status: 500 }, { text: 'recovered' });
    const chat = await SseClient.open(`${server.url}/api/v1/chat/${session}/message`, { token: user.token, method: 'POST', body: { content: 'retry please' } });
    let sawFailing = false;
    while (!chat.ended) {
      const health = await server.api('GET', '/api/health');
      if (health.body.data.model.status === 'failing') {
        sawFailing = true;
        assert.equal(health.body.data.status, 'degraded');
        assert.equal(health.body.data.model.providers[0].name, 'fake');
        assert.ok(health.body.data.model.providers[0].consecutive_failures >= 3);
      }
      await sleep(20);
    }
    const retries = chat.events.filter((event) => event.event === 'status' && event.data.state === 'model_retrying');
    assert.equal(retries.length, 3);
    assert.deepEqual(retries.map((event) => event.data.attempt), [1, 2, 3]);
    assert.equal(retries[0]!.data.provider, 'fake');
    assert.equal(retries[0]!.data.http_status, 500);
    assert.ok(retries[0]!.data.delay_ms > 0);
    assert.equal(chat.events.find((event) => event.event === 'done')?.data.content, 'recovered');
    assert.ok(sawFailing, 'health reported the provider as failing during the retries');
    const after = await server.api('GET', '/api/health');
    assert.equal(after.body.data.model.status, 'ok');
    assert.equal(after.body.data.status, 'healthy');
  });
});

describe('process: HOST/PORT env, and a resumed run marked on /api/stream across kill -9', () => {
  test('env PORT and HOST choose where the server listens', async () => {
    const environment = await TestEnvironment.create();
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address() as { port: number };
        probe.close(() => resolve(address.port));
      });
    });
    const server = await environment.spawn({ env: { PORT: String(port), HOST: '127.0.0.1' } });
    try {
      assert.equal(new URL(server.url).port, String(port));
      assert.equal((await server.api('GET', '/api/health')).status, 200);
    } finally {
      await server.stop();
      await environment.destroy();
    }
  });

  test('after kill -9 mid-answer, assistant_message_restarted lets a seed client rebuild the answer exactly once', async () => {
    const fake = await startFakeOpenAI();
    const environment = await TestEnvironment.create();
    const toml = `${fakeProviderToml(fake.baseUrl)}\n${LIMITS}`;
    let server = await environment.spawn({ toml });
    try {
      const finalText = Array.from({ length: 40 }, (_, index) => `w${index} `).join('');
      fake.enqueue({ tokens: 2000, tokenText: 'partial ', tokenDelayMs: 5 }, { text: finalText });
      const first = await SseClient.open(`${server.url}/api/stream`);
      const execute = await server.api('POST', '/api/execute', { body: { prompt: 'crash me' } });
      const taskId = execute.body.data.task_id;
      await first.waitFor((events) => events.filter((event) => event.data.type === 'assistant_message_delta').length >= 20, 10_000);
      await server.kill();
      first.close();
      server = await environment.spawn({ toml });
      const resumed = await SseClient.open(`${server.url}/api/stream`, { lastEventId: first.events.at(-1)!.id });
      await resumed.waitFor((events) => events.some((event) => event.data.type === 'task_completed'), 20_000);
      resumed.close();
      const frames = [...first.events, ...resumed.events].map((event) => event.data).filter((data) => data.run_id === taskId);
      const restartAt = frames.findIndex((data) => data.type === 'assistant_message_restarted');
      assert.ok(restartAt > 0, 'a restart marker precedes the restarted turn');
      assert.ok(frames.slice(0, restartAt).some((data) => data.type === 'assistant_message_delta'), 'partial text came before it');
      // The documented client rule: on assistant_message_restarted, drop the deltas of that run since its last completed message.
      let text = '';
      let turnText = '';
      for (const data of frames) {
        if (data.type === 'assistant_message_delta') turnText += data.delta;
        if (data.type === 'assistant_message_restarted') turnText = '';
        if (data.type === 'assistant_message_completed') {
          text += turnText;
          turnText = '';
        }
      }
      assert.equal(text, finalText);
    } finally {
      await server.stop();
      await environment.destroy();
      await fake.close();
    }
  });
});
