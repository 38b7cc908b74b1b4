import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { registerUser, startTestServer } from './support/server.js';

describe('HTTP conventions: errors, request ids, health, docs', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let user: Awaited<ReturnType<typeof registerUser>>;
  before(async () => {
    server = await startTestServer({ toml: '[limits]\nrequests_per_minute = 10000\nbody_max_bytes = 2048\nupload_max_bytes = 4096' });
    user = await registerUser(server.api);
  });
  after(() => server.shutdown());

  test('unknown routes are 404 in the error body of their surface, with or without a token', async () => {
    for (const token of [undefined, user.token, 'garbage']) {
      const v1 = await server.api('GET', '/api/v1/no/such/route', { token });
      assert.equal(v1.status, 404);
      assert.equal(v1.body.error_code, 'NOT_FOUND');
      assert.match(v1.body.timestamp, /^\d{4}-\d\d-\d\dT.*Z$/);
      const service = await server.api('GET', '/api/nothing-here', { token });
      assert.equal(service.status, 404);
      assert.deepEqual(Object.keys(service.body).sort(), ['data', 'error', 'success']);
      assert.equal(service.body.success, false);
      assert.equal(service.body.data, null);
      assert.match(service.body.error, /not found/i);
    }
  });

  test('a JSON body over body_max_bytes is 413 PAYLOAD_TOO_LARGE', async () => {
    const response = await server.api('POST', '/api/v1/workspaces', { token: user.token, body: { name: 'x'.repeat(5000) } });
    assert.equal(response.status, 413);
    assert.equal(response.body.error_code, 'PAYLOAD_TOO_LARGE');
  });

  test('a wrong content type or an empty JSON body is a 400', async () => {
    const text = await server.api('POST', '/api/v1/workspaces', { token: user.token, raw: 'name=x', headers: { 'content-type': 'text/plain' } });
    assert.equal(text.status, 400);
    assert.equal(text.body.error_code, 'VALIDATION_ERROR');
    const empty = await server.api('POST', '/api/v1/workspaces', { token: user.token, raw: '', headers: { 'content-type': 'application/json' } });
    assert.equal(empty.status, 400);
    assert.equal(empty.body.error_code, 'VALIDATION_ERROR');
  });

  test('every response carries X-Request-Id, echoed when the client sends one', async () => {
    const generated = await server.api('GET', '/api/health');
    assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    const echoed = await server.api('GET', '/api/v1/nope', { headers: { 'x-request-id': 'trace-123' } });
    assert.equal(echoed.headers.get('x-request-id'), 'trace-123');
    assert.equal(echoed.body.request_id, 'trace-123');
    const hostile = await server.api('GET', '/api/health', { headers: { 'x-request-id': 'a b<script>' } });
    assert.notEqual(hostile.headers.get('x-request-id'), 'a b<script>');
  });

  test('GET /api/health matches the Service API document, plus readiness', async () => {
    const response = await server.api('GET', '/api/health');
    assert.equal(response.status, 200);
    assert.equal(response.body.success, true);
    assert.equal(response.body.error, null);
    assert.equal(response.body.data.status, 'healthy');
    assert.equal(response.body.data.version, '0.1.0');
    assert.ok(Math.abs(response.body.data.timestamp - Date.now() / 1000) < 5);
    assert.equal(response.body.data.database.status, 'ok');
    // No provider is configured in tests' env: the offline model is announced.
    assert.equal(response.body.data.model.offline, true);
    assert.match(response.body.data.model.message, /offline/);
  });

  test('/openapi.json is OpenAPI 3.1 generated from the route schemas; /docs renders it', async () => {
    const response = await server.api('GET', '/openapi.json');
    assert.equal(response.status, 200);
    assert.equal(response.body.openapi, '3.1.0');
    const paths = Object.keys(response.body.paths);
    for (const path of ['/api/v1/auth/register', '/api/v1/sessions', '/api/v1/sessions/{id}', '/api/v1/workspaces', '/api/v1/files', '/api/health']) {
      assert.ok(paths.includes(path), `missing ${path}`);
    }
    const create = response.body.paths['/api/v1/sessions'].post;
    const bodySchema = create.requestBody.content['application/json'].schema;
    assert.equal(bodySchema.properties.title.maxLength, 200);
    assert.deepEqual(bodySchema.required, ['workspace_id']);
    const docs = await fetch(`${server.url}/docs`, { redirect: 'follow' });
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger/i);
  });

  test('an unexpected failure is a 500 INTERNAL_ERROR that leaks nothing', async () => {
    const other = await startTestServer({ toml: '[limits]\nrequests_per_minute = 10000' });
    try {
      const owner = await registerUser(other.api);
      const session = await other.api('POST', '/api/v1/sessions', { token: owner.token, body: { workspace_id: owner.workspaceId } });
      // Break the database under the running server.
      await sql`drop table artifacts`.execute(other.inProcess!.context.store.handle.db);
      const response = await other.api('GET', `/api/v1/sessions/${session.body.id}/artifacts`, { token: owner.token });
      assert.equal(response.status, 500);
      assert.equal(response.body.error_code, 'INTERNAL_ERROR');
      assert.equal(response.body.detail, 'Internal server error');
      assert.doesNotMatch(response.text, /artifacts|stack|at \w+ \(|sqlite|relation/i);
    } finally {
      await other.shutdown();
    }
  });
});

describe('uploads', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let user: Awaited<ReturnType<typeof registerUser>>;
  before(async () => {
    server = await startTestServer({ toml: '[limits]\nrequests_per_minute = 10000\nupload_max_bytes = 4096\nuploads_per_minute = 3' });
    user = await registerUser(server.api);
  });
  after(() => server.shutdown());

  const upload = (content: string | Uint8Array, name = 'notes.txt', field = 'file', token = user.token) => {
    const form = new FormData();
    form.append(field, new Blob([content], { type: 'text/plain' }), name);
    return server.api('POST', '/api/v1/files', { token, raw: form });
  };

  test('multipart upload stores the file; too large is 413; missing field is 400; uploads are rate limited', async () => {
    const ok = await upload('hello attachment', '../../etc/passwd');
    assert.equal(ok.status, 201);
    assert.equal(ok.body.size, 16);
    assert.equal(ok.body.name, 'passwd');
    assert.equal(ok.body.mime_type, 'text/plain');
    assert.match(ok.body.file_id, /^[0-9a-f-]{36}$/);

    const big = await upload(new Uint8Array(5000));
    assert.equal(big.status, 413);
    assert.equal(big.body.error_code, 'PAYLOAD_TOO_LARGE');

    const wrongField = await upload('x', 'a.txt', 'attachment');
    assert.equal(wrongField.status, 400);

    // Three uploads so far in this minute: the fourth is refused.
    const limited = await upload('one too many');
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error_code, 'RATE_LIMITED');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.equal(limited.headers.get('x-ratelimit-limit'), '3');

    const second = await registerUser(server.api);
    const json = await server.api('POST', '/api/v1/files', { token: second.token, body: { file: 'x' } });
    assert.equal(json.status, 400);
    assert.equal((await upload('anon', 'a.txt', 'file', '')).status, 401);
  });
});

describe('request rate limits', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => {
    server = await startTestServer({ toml: '[limits]\nrequests_per_minute = 5' });
  });
  after(() => server.shutdown());

  test('per user: the limit+1th request in a minute is 429 with X-RateLimit-* and Retry-After; health is exempt', async () => {
    const user = await registerUser(server.api); // 1 anonymous request from this IP
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof server.api>> | undefined;
    for (let index = 0; index < 6; index++) {
      last = await server.api('GET', '/api/v1/workspaces', { token: user.token });
      statuses.push(last.status);
      if (index === 0) {
        assert.equal(last.headers.get('x-ratelimit-limit'), '5');
        assert.equal(last.headers.get('x-ratelimit-remaining'), '4');
        assert.ok(Number(last.headers.get('x-ratelimit-reset')) > 0);
      }
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
    assert.equal(last!.body.error_code, 'RATE_LIMITED');
    assert.ok(Number(last!.headers.get('retry-after')) > 0);
    assert.equal(last!.headers.get('x-ratelimit-remaining'), '0');

    // Another user has a budget of their own.
    const other = await registerUser(server.api);
    assert.equal((await server.api('GET', '/api/v1/workspaces', { token: other.token })).status, 200);

    for (let index = 0; index < 10; index++) assert.equal((await server.api('GET', '/api/health')).status, 200);
  });

  test('anonymous requests are limited per IP, in the Service API envelope under /api', async () => {
    // Earlier registrations used part of this IP's anonymous budget.
    let response;
    for (let index = 0; index < 6; index++) {
      response = await server.api('POST', '/api/v1/auth/login', { body: { email: 'x@example.com', password: 'whatever pw' } });
      if (response.status === 429) break;
    }
    assert.equal(response!.status, 429);
    assert.equal(response!.body.error_code, 'RATE_LIMITED');
  });
});

describe('metrics', () => {
  test('/metrics exposes Prometheus text with HTTP latency, runs, SSE connections, tokens and tool durations', async () => {
    const server = await startTestServer({ toml: '[limits]\nrequests_per_minute = 10000' });
    try {
      const user = await registerUser(server.api);
      const session = await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } });
      // The offline demo model writes a file through the real tool path.
      const chat = await fetch(`${server.url}/api/v1/chat/${session.body.id}/message`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'write file m.txt: metrics' }),
      });
      await chat.text();
      // The run records its end just after `done` is streamed: scrape until it has.
      let response: Response;
      let text = '';
      for (let attempt = 0; attempt < 100; attempt++) {
        response = await fetch(`${server.url}/metrics`);
        text = await response.text();
        if (/tokendance_active_runs 0/.test(text)) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(response!.status, 200);
      assert.match(response!.headers.get('content-type') ?? '', /text\/plain/);
      assert.match(text, /tokendance_process_cpu_seconds_total/);
      assert.match(text, /tokendance_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/sessions",status="201"\} 1/);
      assert.match(text, /tokendance_active_runs 0/);
      assert.match(text, /tokendance_sse_connections 0/);
      assert.match(text, /tokendance_approvals_pending 0/);
      assert.match(text, /tokendance_run_duration_seconds_count\{outcome="completed"\} 1/);
      assert.match(text, /tokendance_tool_duration_seconds_count\{tool="file_write",success="true"\} 1/);
      assert.match(text, /tokendance_model_tokens_total\{direction="output"\} [1-9]/);
    } finally {
      await server.shutdown();
    }
  });
});
