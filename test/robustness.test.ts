import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { SignJWT } from 'jose';
import { loadConfig } from '../src/config/load.js';
import { startServer } from '../src/server.js';
import { apiClient } from './support/http.js';
import { buildCases, type Case, corsCases, type Fixtures, unknownRouteCases } from './support/malformed-requests.js';
import { type Kind, operationsOf } from './support/openapi-operations.js';
import { type Exchange, rawExchange } from './support/raw-exchange.js';
import { registerUser, startTestServer, TestEnvironment } from './support/server.js';
import { SseClient } from './support/sse.js';

/**
 * Measures robustness: thousands of malformed requests over every route of /openapi.json, then
 * checks that none got a 5xx or a wrong error body, and that the server is healthy and has given
 * its memory back. The numbers go to the log for the hardening issue.
 */

const JWT_SECRET = 'robustness-test-secret-0123456789abcdef0123456789';
const BODY_MAX_BYTES = 1_048_576;
const UPLOAD_MAX_BYTES = 65_536;
const CONCURRENCY = 8;
const ALLOWED_ORIGIN = 'http://allowed.example';
const ERROR_CODES: Record<number, string> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  408: 'VALIDATION_ERROR',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'VALIDATION_ERROR',
  429: 'RATE_LIMITED',
  431: 'VALIDATION_ERROR',
};

/** `npm test` does not pass --expose-gc; V8 can still hand out its collector for an honest RSS reading. */
function garbageCollector(): () => void {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

async function settledRss(gc: () => void): Promise<number> {
  for (let round = 0; round < 3; round++) {
    gc();
    await sleep(100);
  }
  return process.memoryUsage().rss;
}

/** What is wrong with an answer, beyond nothing. */
function problemsOf(item: Case, answer: Exchange): string[] {
  if (item.options?.abandonAfterMs !== undefined) return [];
  if (answer.timedOut) return ['no answer within 10 s'];
  // A client that stops sending mid-body may be dropped without an answer; nothing else may.
  if (answer.status === 0) return item.options?.halfClose ? [] : ['connection closed without an answer'];
  const problems: string[] = [];
  if (answer.status >= 500) problems.push(`server error ${answer.status}`);
  if (answer.extraAnswers > 0) problems.push(`a second answer written into the first: ${answer.body.slice(-300)}`);
  const requestId = answer.headers['x-request-id'];
  if (!requestId) problems.push('no X-Request-Id');
  if (item.requestId && requestId !== item.requestId) problems.push(`X-Request-Id ${requestId} does not echo ${item.requestId}`);
  if (item.expect && !item.expect.includes(answer.status)) problems.push(`status ${answer.status}, expected ${item.expect.join(' or ')}`);
  for (const [name, value] of Object.entries(item.expectHeaders ?? {})) {
    if (answer.headers[name] !== value) problems.push(`header ${name}: ${answer.headers[name]}, expected ${value}`);
  }
  if (answer.status >= 400) problems.push(...errorBodyProblems(item, answer, requestId));
  return problems;
}

function errorBodyProblems(item: Case, answer: Exchange, requestId: string | undefined): string[] {
  const body = answer.json as Record<string, unknown> | undefined;
  if (!body || typeof body !== 'object') return [`error body is not JSON: ${answer.body.slice(0, 200)}`];
  if (item.surface === 'service') {
    const keys = Object.keys(body).sort().join(',');
    return keys === 'data,error,success' && body.success === false && body.data === null && typeof body.error === 'string'
      ? []
      : [`not the Service API envelope: ${answer.body.slice(0, 200)}`];
  }
  const problems: string[] = [];
  if (typeof body.detail !== 'string' || body.detail === '') problems.push('no detail');
  const code = ERROR_CODES[answer.status];
  if (typeof body.error_code !== 'string' || (code && body.error_code !== code)) problems.push(`error_code ${String(body.error_code)} for ${answer.status}`);
  if (typeof body.timestamp !== 'string' || !/^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(body.timestamp)) problems.push(`timestamp ${String(body.timestamp)}`);
  if (body.request_id !== undefined && body.request_id !== requestId) problems.push(`request_id ${String(body.request_id)} is not the header's ${requestId}`);
  if ('success' in body) problems.push('envelope keys in a TokenDance error body');
  return problems.map((problem) => `${problem}: ${answer.body.slice(0, 200)}`);
}

interface Answer extends Exchange {
  ms: number;
}

async function runAll(baseUrl: string, cases: Case[], answers: Map<Case, Answer>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const item = cases[next++]!;
      const started = performance.now();
      const answer = await rawExchange(baseUrl, item.request, item.options);
      answers.set(item, { ...answer, ms: performance.now() - started });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** Sends token-revoking cases one at a time, logging in again whenever one succeeded. */
async function runRevoking(baseUrl: string, cases: Case[], answers: Map<Case, Answer>, original: string, login: () => Promise<string>): Promise<void> {
  let token = original;
  for (const item of cases) {
    const request = token === original ? item.request : replaceAll(item.request, Buffer.from(original), Buffer.from(token));
    const started = performance.now();
    const answer = await rawExchange(baseUrl, request, item.options);
    answers.set(item, { ...answer, ms: performance.now() - started });
    if (answer.status >= 200 && answer.status < 300) token = await login();
  }
}

function replaceAll(buffer: Buffer, search: Buffer, replacement: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = buffer.indexOf(search); at >= 0; at = buffer.indexOf(search, from)) {
    parts.push(buffer.subarray(from, at), replacement);
    from = at + search.length;
  }
  parts.push(buffer.subarray(from));
  return Buffer.concat(parts);
}

function statusKey(item: Case, answer: Exchange): string {
  if (item.options?.abandonAfterMs !== undefined) return 'abandoned';
  if (answer.status === 0) return 'closed';
  return answer.sse ? `${answer.status} sse` : String(answer.status);
}

describe('robustness: malformed requests on every route', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  /** A second server with CORS on, for preflights. */
  let corsServer: { url: string; token: string; close(): Promise<void> };
  let owner: Awaited<ReturnType<typeof registerUser>>;
  let fixtures: Fixtures;

  /** A user with one of each resource: a session with an artifact, a pending approval, a Service API task. */
  async function resourcesOf(user: Awaited<ReturnType<typeof registerUser>>): Promise<Record<Exclude<Kind, 'tool'>, string>> {
    const { api } = server;
    const newSession = async () => (await api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id as string;
    const session = await newSession();
    const write = await SseClient.open(`${server.url}/api/v1/chat/${session}/message`, { token: user.token, method: 'POST', body: { content: 'write file hello.txt: hi' } });
    await write.waitForEnd();
    const artifacts = await api('GET', `/api/v1/sessions/${session}/artifacts`, { token: user.token });
    const artifact = artifacts.body.items?.[0]?.id ?? artifacts.body[0]?.id;
    assert.ok(artifact, `an artifact: ${artifacts.text}`);

    const waiting = await newSession();
    const remove = await SseClient.open(`${server.url}/api/v1/chat/${waiting}/message`, { token: user.token, method: 'POST', body: { content: 'delete file hello.txt' } });
    const required = await remove.waitForEvent('confirm_required');
    remove.close();
    const approval = required.find((event) => event.event === 'confirm_required')!.data.action_id as string;

    const task = await api('POST', '/api/execute', { token: user.token, body: { prompt: 'hello' } });
    assert.equal(task.status, 200, task.text);
    return { workspace: user.workspaceId, session, approval, task: task.body.data.task_id, artifact };
  }

  let setupSeconds = 0;
  before(async () => {
    const setupStarted = performance.now();
    server = await startTestServer({
      toml: [
        '[auth]',
        `jwt_secret = "${JWT_SECRET}"`,
        '[limits]',
        'requests_per_minute = 1000000',
        'uploads_per_minute = 1000000',
        'sse_concurrent = 1000',
        `body_max_bytes = ${BODY_MAX_BYTES}`,
        `upload_max_bytes = ${UPLOAD_MAX_BYTES}`,
      ].join('\n'),
    });
    owner = await registerUser(server.api);
    const other = await registerUser(server.api);
    const claims = JSON.parse(Buffer.from(owner.token.split('.')[1]!, 'base64url').toString()) as { sub: string; fam: string };
    const now = Math.floor(Date.now() / 1000);
    const sign = (secret: string, expiresAt: number) =>
      new SignJWT({ fam: claims.fam }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(claims.sub).setJti(randomUUID()).setIssuedAt(now - 7200).setExpirationTime(expiresAt).sign(new TextEncoder().encode(secret));
    const unsigned = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
    // Tools belong to nobody; the direct-call route gets a real one that only reads.
    const tools = await server.api('GET', '/api/v1/mcp/tools', { token: owner.token });
    const toolNames: string[] = tools.status === 200 && Array.isArray(tools.body) ? tools.body.map((tool: { name: string }) => tool.name) : [];
    fixtures = {
      own: { ...(await resourcesOf(owner)), tool: toolNames.includes('file_read') ? 'file_read' : (toolNames[0] ?? 'file_read') },
      other: await resourcesOf(other),
      tokens: {
        valid: owner.token,
        expired: await sign(JWT_SECRET, now - 60),
        forged: await sign('a-different-secret-of-the-same-length-0123456789', now + 3600),
        algNone: `${unsigned({ alg: 'none', typ: 'JWT' })}.${unsigned({ ...claims, exp: now + 3600 })}.`,
      },
      bodyMaxBytes: BODY_MAX_BYTES,
      uploadMaxBytes: UPLOAD_MAX_BYTES,
    };

    const environment = await TestEnvironment.create();
    const { config } = loadConfig({ path: environment.writeConfig('[limits]\nrequests_per_minute = 1000000'), env: {} });
    config.server.cors_origins = [ALLOWED_ORIGIN];
    const running = await startServer({ config, logger: false, env: {} });
    corsServer = {
      url: running.url,
      token: (await registerUser(apiClient(running.url))).token,
      close: async () => {
        await running.close();
        await environment.destroy();
      },
    };
    setupSeconds = (performance.now() - setupStarted) / 1000;
  });
  after(async () => {
    await corsServer?.close();
    await server.shutdown();
  });

  test('no 5xx, the right error body and X-Request-Id on every answer; healthy and lean afterwards', { timeout: 180_000 }, async () => {
    const document = (await server.api('GET', '/openapi.json')).body;
    const operations = operationsOf(document);
    assert.ok(operations.length >= 30, `routes in /openapi.json: ${operations.length}`);
    const cases = [...buildCases(operations, fixtures), ...unknownRouteCases(fixtures.tokens.valid)];
    assert.ok(cases.length >= 1000, `${cases.length} requests`);

    const gc = garbageCollector();
    const rssBefore = await settledRss(gc);
    const started = performance.now();
    const answers = new Map<Case, Answer>();
    const cors = corsCases(operations, corsServer.token, ALLOWED_ORIGIN);
    await runAll(corsServer.url, cors, answers);
    await runAll(server.url, cases.filter((item) => !item.destructive), answers);
    // Deleting the caller's resources or revoking its token last keeps every other case meaningful.
    await runAll(server.url, cases.filter((item) => item.destructive && !item.revokes), answers);
    const login = async () => {
      const response = await server.api('POST', '/api/v1/auth/login', { body: { email: owner.email, password: owner.password } });
      assert.equal(response.status, 200, response.text);
      return response.body.access_token as string;
    };
    await runRevoking(server.url, cases.filter((item) => item.revokes), answers, fixtures.tokens.valid, login);
    const seconds = (performance.now() - started) / 1000;
    await sleep(1000);
    const rssAfter = await settledRss(gc);

    const byStatus: Record<string, number> = {};
    const failures: string[] = [];
    const all = [...cors, ...cases];
    for (const item of all) {
      const answer = answers.get(item)!;
      byStatus[statusKey(item, answer)] = (byStatus[statusKey(item, answer)] ?? 0) + 1;
      for (const problem of problemsOf(item, answer)) failures.push(`${item.label}: ${problem}`);
    }
    const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
    console.log(
      `robustness: ${all.length} malformed or hostile requests over ${operations.length} routes in ${seconds.toFixed(1)} s ` +
        `(concurrency ${CONCURRENCY}; setup ${setupSeconds.toFixed(1)} s); by status ${JSON.stringify(byStatus)}; ` +
        `RSS before ${mb(rssBefore)} MB, after ${mb(rssAfter)} MB (${rssAfter >= rssBefore ? '+' : ''}${mb(rssAfter - rssBefore)} MB); failures ${failures.length}`,
    );
    const slowest = all.map((item) => [item.label, Math.round(answers.get(item)!.ms)] as const).sort((a, b) => b[1] - a[1]).slice(0, 5);
    console.log(`robustness: slowest ${JSON.stringify(slowest).slice(0, 1500)}`);
    assert.deepEqual(failures.slice(0, 200), [], `${failures.length} bad answers`);

    const health = await server.api('GET', '/api/health');
    assert.equal(health.status, 200, health.text);
    assert.equal(health.body.data.status, 'healthy', health.text);
    const fresh = await registerUser(server.api);
    assert.equal((await server.api('GET', '/api/v1/auth/me', { token: fresh.token })).status, 200);
    assert.ok(rssAfter - rssBefore < 100 * 1024 * 1024, `RSS grew by ${mb(rssAfter - rssBefore)} MB`);
  });
});
