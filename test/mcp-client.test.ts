import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { configSchema } from '../src/config/schema.js';
import { resolveEnvReferences } from '../src/mcp/env-references.js';
import { ToolRegistry } from '../src/tools/registry.js';
import type { Tool } from '../src/tools/types.js';
import { wireName } from '../src/tools/wire-names.js';
import { startFakeOpenAI } from './support/fake-openai.js';
import { fakeProviderToml } from './support/fake-provider-config.js';
import { registerUser, startTestServer } from './support/server.js';
import { SseClient } from './support/sse.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const FILESYSTEM = join(ROOT, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js');
const SDK = join(ROOT, 'node_modules/@modelcontextprotocol/sdk/dist/esm');

const SECRET_KEY = 'sk-test-secret-never-leaves-tokendance';
const JWT_SECRET = 'jwt-secret-that-must-not-reach-mcp-servers-0123456789';
const PROCESS_SECRET = 'process-env-secret-of-the-test-runner';

const WEIRD = 'weird name/with.dots ünïcode';
const LONG = `long-${'x'.repeat(95)}`;

/**
 * A small real MCP server (official SDK, stdio) whose tool list changes on request, with names no
 * model API accepts as they are and a draft 2020-12 input schema.
 */
const DYNAMIC_SERVER = `
import { Server } from ${JSON.stringify(pathToFileURL(join(SDK, 'server/index.js')).href)};
import { StdioServerTransport } from ${JSON.stringify(pathToFileURL(join(SDK, 'server/stdio.js')).href)};
import { CallToolRequestSchema, ListToolsRequestSchema } from ${JSON.stringify(pathToFileURL(join(SDK, 'types.js')).href)};
const base = [
  { name: 'grow', description: 'Adds the odd tools', inputSchema: { type: 'object', properties: {} } },
  { name: 'shrink', description: 'Removes them again', inputSchema: { type: 'object', properties: {} } },
];
const odd = [
  { name: ${JSON.stringify(WEIRD)}, description: 'Counts', inputSchema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { n: { type: 'integer', minimum: 1 }, tags: { type: 'array', prefixItems: [{ type: 'string' }], items: false } }, required: ['n'], additionalProperties: false } },
  { name: ${JSON.stringify(LONG)}, description: 'Long name', inputSchema: { type: 'object', properties: {} } },
  { name: 'a b', description: 'space', inputSchema: { type: 'object', properties: {} } },
  { name: 'a_b', description: 'underscore', inputSchema: { type: 'object', properties: {} } },
];
let grown = false;
const server = new Server({ name: 'dynamic', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: grown ? [...base, ...odd] : base }));
server.setRequestHandler(CallToolRequestSchema, async (request) => {
  const { name, arguments: args } = request.params;
  if (name === 'grow' || name === 'shrink') {
    grown = name === 'grow';
    await server.sendToolListChanged();
    return { content: [{ type: 'text', text: name + ' done' }] };
  }
  return { content: [{ type: 'text', text: 'called ' + name + ' with ' + JSON.stringify(args ?? {}) }] };
});
await server.connect(new StdioServerTransport());
`;

const waitUntil = async <T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, what = 'condition', intervalMs = 25): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met in time`);
    await sleep(intervalMs);
  }
};

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolvePromise) => server.close(resolvePromise));
  return port;
}

/** server-everything in Streamable HTTP mode (it reads PORT), as a child process. */
async function startEverythingHttp(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], { env: { PATH: process.env.PATH, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.resume();
  await new Promise<void>((resolvePromise, reject) => {
    let output = '';
    child.stderr!.on('data', (chunk) => {
      output += chunk;
      if (/listening on port/i.test(output)) resolvePromise();
    });
    child.once('exit', (code) => reject(new Error(`server-everything exited with ${code}: ${output}`)));
  });
  return { child, port };
}

/** A pass-through proxy that records the Authorization header of every request (proves `headers` reach the server). */
async function startRecordingProxy(targetPort: number): Promise<{ server: Server; port: number; authorizations: (string | undefined)[] }> {
  const authorizations: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    const upstream = httpRequest({ host: '127.0.0.1', port: targetPort, path: req.url, method: req.method, headers: req.headers }, (response) => {
      res.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  return { server, port: (server.address() as AddressInfo).port, authorizations };
}

const toml = (value: string) => JSON.stringify(value);

describe('MCP client: real servers over stdio and Streamable HTTP', () => {
  let fake: Awaited<ReturnType<typeof startFakeOpenAI>>;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let user: Awaited<ReturnType<typeof registerUser>>;
  let everythingHttp: Awaited<ReturnType<typeof startEverythingHttp>>;
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;
  let scratch: string;
  let allowedDir: string;
  let startStatuses: any[];
  let token: string;

  const api = (method: string, path: string, body?: unknown, as = token) => server.api(method, path, { token: as, ...(body === undefined ? {} : { body }) });
  const execute = (name: string, body: unknown, as = token) => api('POST', `/api/v1/mcp/tools/${encodeURIComponent(name)}/execute`, body, as);
  const serverState = async (name: string) => ((await api('GET', '/api/v1/mcp/servers')).body as any[]).find((entry) => entry.name === name);
  const newSession = async (as = user) => (await server.api('POST', '/api/v1/sessions', { token: as.token, body: { workspace_id: as.workspaceId } })).body.id as string;

  before(async () => {
    process.env.TOKENDANCE_TEST_PROCESS_SECRET = PROCESS_SECRET;
    scratch = mkdtempSync(join(tmpdir(), 'tokendance-mcp-'));
    allowedDir = realpathSync(mkdtempSync(join(scratch, 'allowed-')));
    writeFileSync(join(allowedDir, 'hello.txt'), 'hello from the filesystem server');
    writeFileSync(join(scratch, 'outside.txt'), 'not for MCP');
    const dynamicPath = join(scratch, 'dynamic-server.mjs');
    writeFileSync(dynamicPath, DYNAMIC_SERVER);
    everythingHttp = await startEverythingHttp();
    proxy = await startRecordingProxy(everythingHttp.port);
    fake = await startFakeOpenAI();
    const mcpToml = [
      '[limits]',
      'requests_per_minute = 100000',
      '[tools.policy]',
      '"mcp.everything.toggle-*" = "deny"',
      '"mcp.everything.trigger-long-running-operation" = "allow"',
      '"mcp.dyn.*" = "allow"',
      '[[mcp.servers]]',
      'name = "everything"',
      `command = ${toml(process.execPath)}`,
      `args = [${toml(EVERYTHING)}, "stdio"]`,
      'env = { GREETING = "${env:MCP_GREETING}" }',
      '[[mcp.servers]]',
      'name = "remote"',
      `url = "http://127.0.0.1:${proxy.port}/mcp"`,
      'headers = { Authorization = "Bearer ${env:MCP_TOKEN}" }',
      'timeout_s = 1',
      '[[mcp.servers]]',
      'name = "files"',
      `command = ${toml(process.execPath)}`,
      `args = [${toml(FILESYSTEM)}, ${toml(allowedDir)}]`,
      '[[mcp.servers]]',
      'name = "dyn"',
      `command = ${toml(process.execPath)}`,
      `args = [${toml(dynamicPath)}]`,
      '[[mcp.servers]]',
      'name = "off"',
      'command = "/nonexistent/never-started"',
      'enabled = false',
      '[[mcp.servers]]',
      'name = "broken"',
      'command = "/nonexistent/mcp-server"',
      '[[mcp.servers]]',
      'name = "nokey"',
      'url = "http://127.0.0.1:9/mcp"',
      'headers = { Authorization = "Bearer ${env:MCP_MISSING_TOKEN}" }',
      '[[mcp.servers]]',
      'name = "hang"',
      `command = ${toml(process.execPath)}`,
      'args = ["-e", "setInterval(() => {}, 1000)"]',
    ].join('\n');
    server = await startTestServer({
      toml: `${fakeProviderToml(fake.baseUrl, { vision: true })}\n${mcpToml}`,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/',
        MCP_GREETING: 'hello-from-config',
        MCP_TOKEN: 'mcp-token-123',
        OPENAI_API_KEY: SECRET_KEY,
        TOKENDANCE_AUTH_JWT_SECRET: JWT_SECRET,
      },
    });
    user = await registerUser(server.api);
    token = user.token;
    // Taken right after start-up: the servers are still on their way.
    startStatuses = (await api('GET', '/api/v1/mcp/servers')).body;
    await waitUntil(async () => {
      const states = (await api('GET', '/api/v1/mcp/servers')).body as any[];
      return ['everything', 'remote', 'files', 'dyn'].every((name) => states.find((state) => state.name === name)?.status === 'connected');
    }, 20_000, 'MCP servers connected');
  });

  after(async () => {
    delete process.env.TOKENDANCE_TEST_PROCESS_SECRET;
    await server?.shutdown();
    await fake?.close();
    await new Promise((resolvePromise) => proxy?.server.close(resolvePromise));
    proxy?.server.closeAllConnections();
    everythingHttp?.child.kill('SIGKILL');
    rmSync(scratch, { recursive: true, force: true });
  });

  test('start-up does not wait for MCP servers; status covers connecting, connected, failed and disabled', async () => {
    const byName = (states: any[], name: string) => states.find((state) => state.name === name);
    assert.equal(byName(startStatuses, 'hang').status, 'connecting', 'a server that never answers is still connecting after start-up');
    assert.equal(byName(startStatuses, 'off').status, 'disabled');

    const states = (await api('GET', '/api/v1/mcp/servers')).body as any[];
    assert.deepEqual(states.map((state) => state.name), ['everything', 'remote', 'files', 'dyn', 'off', 'broken', 'nokey', 'hang']);
    const everything = byName(states, 'everything');
    assert.equal(everything.transport, 'stdio');
    assert.equal(everything.status, 'connected');
    assert.equal(everything.error, undefined);
    assert.ok(everything.tools.includes('mcp.everything.echo'));
    assert.equal(byName(states, 'remote').transport, 'streamable_http');
    assert.deepEqual(byName(states, 'off'), { name: 'off', transport: 'stdio', status: 'disabled', tools: [] });
    const broken = await waitUntil(async () => ((await serverState('broken'))?.status === 'failed' ? serverState('broken') : undefined), 5000, 'broken fails');
    assert.match(broken.error, /ENOENT/);
    assert.deepEqual(broken.tools, []);
    const nokey = await serverState('nokey');
    assert.equal(nokey.status, 'failed');
    assert.match(nokey.error, /MCP_MISSING_TOKEN.*not set/);
    assert.equal((await serverState('hang')).status, 'connecting');
    assert.equal((await server.api('GET', '/api/v1/mcp/servers')).status, 401, 'the API needs a token');
  });

  test('tools: built-in and MCP side by side, with servers, policies, schemas and valid wire names', async () => {
    const response = await api('GET', '/api/v1/mcp/tools');
    assert.equal(response.status, 200);
    const tools = response.body as any[];
    const find = (name: string) => tools.find((tool) => tool.name === name);
    assert.deepEqual(find('file_read') && { server: find('file_read').server, policy: find('file_read').policy, wire: find('file_read').wire_name }, { server: null, policy: 'allow', wire: 'file_read' });
    const echo = find('mcp.everything.echo');
    assert.equal(echo.server, 'everything');
    assert.equal(echo.policy, 'ask', 'MCP tools ask by default');
    assert.equal(echo.wire_name, 'mcp__everything__echo');
    assert.deepEqual(echo.input_schema.required, ['message']);
    assert.equal(echo.input_schema.properties.message.type, 'string');
    assert.equal(find('mcp.everything.toggle-simulated-logging').policy, 'deny');
    assert.equal(find('mcp.remote.echo').server, 'remote');
    assert.ok(find('mcp.files.read_text_file'), tools.map((tool) => tool.name).join(', '));
    // simulate-research-query requires task-based execution, which a plain tools/call cannot do.
    assert.equal(find('mcp.everything.simulate-research-query'), undefined);
    for (const tool of tools) assert.match(tool.wire_name, /^[A-Za-z0-9_-]{1,64}$/, tool.name);
    assert.equal(new Set(tools.map((tool) => tool.wire_name)).size, tools.length);

    const schema = await api('GET', '/api/v1/mcp/tools/mcp.everything.get-sum/schema');
    assert.equal(schema.status, 200);
    assert.equal(schema.body.name, 'mcp.everything.get-sum');
    assert.deepEqual(schema.body.input_schema.required, ['a', 'b']);
    const byWire = await api('GET', '/api/v1/mcp/tools/mcp__everything__get-sum/schema');
    assert.equal(byWire.body.name, 'mcp.everything.get-sum');
    const builtIn = await api('GET', '/api/v1/mcp/tools/file_write/schema');
    assert.deepEqual(builtIn.body.input_schema.required, ['path', 'content']);
    for (const unknown of ['nope', 'mcp.everything.nope', 'mcp.off.echo', '..%2F..%2Fetc', '%E2%80%8B']) {
      const missing = await api('GET', `/api/v1/mcp/tools/${unknown}/schema`);
      assert.equal(missing.status, 404, unknown);
      assert.equal(missing.body.error_code, 'NOT_FOUND');
    }
  });

  test('execute over stdio and Streamable HTTP: text, image and resource results; headers from env', async () => {
    const echo = await execute('mcp.everything.echo', { arguments: { message: 'hi there' } });
    assert.equal(echo.status, 200, echo.text);
    assert.equal(echo.body.success, true);
    assert.equal(echo.body.result, 'Echo: hi there');
    assert.equal(echo.body.error, null);
    assert.equal(typeof echo.body.duration_ms, 'number');

    const remote = await execute('mcp__remote__get-sum', { arguments: { a: 2, b: 40 } });
    assert.equal(remote.status, 200, remote.text);
    assert.equal(remote.body.success, true);
    assert.match(remote.body.result, /42/);
    assert.ok(proxy.authorizations.length > 0);
    assert.ok(proxy.authorizations.every((value) => value === 'Bearer mcp-token-123'), JSON.stringify(proxy.authorizations));

    const image = await execute('mcp.everything.get-tiny-image', { arguments: {} });
    assert.equal(image.body.success, true);
    assert.match(image.body.result, /^Here's the image you requested:\n\[image 1: image\/png, [\d.]+ (bytes|KB); attached for the model after the tool results\]\nThe image above is the MCP logo\.$/);

    const resource = await execute('mcp.everything.get-resource-reference', { arguments: { resourceType: 'Text', resourceId: 3 } });
    assert.equal(resource.body.success, true);
    assert.match(resource.body.result, /\[resource demo:\/\/resource\/dynamic\/text\/3 \(text\/plain\)\]\nResource 3: /);
    const links = await execute('mcp.everything.get-resource-links', { arguments: { count: 2 } });
    assert.match(links.body.result, /\[resource link: .+ <demo:\/\/resource\/dynamic\/.+>/);
  });

  test('filesystem server over stdio: reads inside its directory, refuses outside', async () => {
    const read = await execute('mcp.files.read_text_file', { arguments: { path: join(allowedDir, 'hello.txt') } });
    assert.equal(read.status, 200, read.text);
    assert.equal(read.body.success, true, read.body.error);
    assert.equal(read.body.result, 'hello from the filesystem server');
    const outside = await execute('mcp.files.read_text_file', { arguments: { path: join(scratch, 'outside.txt') } });
    assert.equal(outside.status, 200);
    assert.equal(outside.body.success, false);
    assert.match(outside.body.error, /denied|outside|not allowed/i);
    assert.doesNotMatch(outside.body.error, /not for MCP/);
  });

  test('bad arguments are 400 (JSON Schema via Ajv), unknown tools 404, denied tools 403', async () => {
    const wrongType = await execute('mcp.everything.get-sum', { arguments: { a: 'one', b: 2 } });
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.body.error_code, 'VALIDATION_ERROR');
    assert.match(wrongType.body.detail, /- a: must be number/);
    const missing = await execute('mcp.everything.get-sum', { arguments: { a: 1 } });
    assert.equal(missing.status, 400);
    assert.match(missing.body.detail, /- b: is required/);
    const enumValue = await execute('mcp.everything.get-structured-content', { arguments: { location: 'Atlantis' } });
    assert.equal(enumValue.status, 400);
    assert.match(enumValue.body.detail, /must be one of "New York", "Chicago", "Los Angeles"/);
    for (const body of [{ arguments: [1, 2] }, { arguments: 'text' }, { arguments: null }]) {
      assert.equal((await execute('mcp.everything.echo', body)).status, 400, JSON.stringify(body));
    }
    const unknown = await execute('mcp.everything.nope', { arguments: {} });
    assert.equal(unknown.status, 404);
    const denied = await execute('mcp.everything.toggle-simulated-logging', { arguments: {} });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error_code, 'FORBIDDEN');
    assert.equal((await server.api('POST', '/api/v1/mcp/tools/mcp.everything.echo/execute', { body: { arguments: { message: 'x' } } })).status, 401);
  });

  test('workspace tools need an accessible session; the workspace policy applies; ask tools run without approval', async () => {
    const noSession = await execute('file_write', { arguments: { path: 'a.txt', content: 'x' } });
    assert.equal(noSession.status, 400);
    assert.match(noSession.body.detail, /session_id is required/);
    assert.equal((await execute('file_write', { arguments: { path: 'a.txt', content: 'x' }, session_id: 'no-such-session' })).status, 404);
    const stranger = await registerUser(server.api);
    const strangersSession = await newSession(stranger);
    const foreign = await execute('file_read', { arguments: { path: 'a.txt' }, session_id: strangersSession });
    assert.equal(foreign.status, 403);

    const sessionId = await newSession();
    const written = await execute('file_write', { arguments: { path: 'notes/a.txt', content: 'direct' }, session_id: sessionId });
    assert.equal(written.status, 200, written.text);
    assert.equal(written.body.success, true);
    const read = await execute('file_read', { arguments: { path: 'notes/a.txt' }, session_id: sessionId });
    assert.match(read.body.result, /direct/);
    const artifacts = await api('GET', `/api/v1/sessions/${sessionId}/artifacts`);
    assert.deepEqual(artifacts.body.items.map((item: any) => item.path), ['notes/a.txt']);
    // file_delete is `ask`: a direct call is the human's own action.
    const deleted = await execute('file_delete', { arguments: { path: 'notes/a.txt' }, session_id: sessionId });
    assert.equal(deleted.body.success, true, deleted.body.error);
    assert.deepEqual((await api('GET', `/api/v1/sessions/${sessionId}/artifacts`)).body.items, []);
    const escape = await execute('file_read', { arguments: { path: '../../etc/passwd' }, session_id: sessionId });
    assert.equal(escape.body.success, false);

    const policy = await api('PATCH', `/api/v1/workspaces/${user.workspaceId}`, { tool_policy: { 'mcp.everything.echo': 'deny' } });
    assert.equal(policy.status, 200, policy.text);
    try {
      assert.equal((await execute('mcp.everything.echo', { arguments: { message: 'x' }, session_id: sessionId })).status, 403);
      assert.equal((await execute('mcp.everything.echo', { arguments: { message: 'x' } })).status, 200, 'without a session only the server policy applies');
    } finally {
      await api('PATCH', `/api/v1/workspaces/${user.workspaceId}`, { tool_policy: null });
    }
  });

  test('the child gets only the env its entry names (plus PATH/HOME), never the server secrets', async () => {
    const response = await execute('mcp.everything.get-env', { arguments: {} });
    assert.equal(response.body.success, true, response.body.error);
    const env = JSON.parse(response.body.result) as Record<string, string>;
    assert.equal(env.GREETING, 'hello-from-config');
    assert.ok(env.PATH);
    for (const [key, value] of Object.entries(env)) {
      assert.doesNotMatch(key, /^TOKENDANCE_|API_KEY|^MCP_/, key);
      for (const secret of [SECRET_KEY, JWT_SECRET, PROCESS_SECRET, 'mcp-token-123']) assert.ok(!value.includes(secret), `${key} carries a secret`);
    }
  });

  test('each call has a timeout (timeout_s per server)', async () => {
    const started = Date.now();
    const slow = await execute('mcp.remote.trigger-long-running-operation', { arguments: { duration: 5, steps: 5 } });
    assert.equal(slow.status, 200);
    assert.equal(slow.body.success, false);
    assert.match(slow.body.error, /timed out/i);
    assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);
    assert.equal((await execute('mcp.remote.echo', { arguments: { message: 'still there' } })).body.result, 'Echo: still there');
  });

  test('the agent calls an MCP tool under ask and gets its output after approval', async () => {
    const sessionId = await newSession();
    const before = fake.requests.length;
    fake.enqueue({ toolCalls: [{ name: 'mcp__everything__echo', arguments: { message: 'via the agent' }, id: 'call_echo' }] }, { text: 'It echoed.' });
    const chat = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token, method: 'POST', body: { content: 'echo something' } });
    await chat.waitForEvent('confirm_required', 10_000);
    const required = chat.events.find((event) => event.event === 'confirm_required')!.data;
    assert.equal(required.tool, 'mcp.everything.echo');
    assert.equal(required.operation, 'mcp.everything.echo');
    assert.match(required.description, /"echo" on the MCP server "everything"/);
    const specs = (fake.requests[before]!.body as any).tools.map((tool: any) => tool.function.name) as string[];
    assert.ok(specs.includes('mcp__everything__echo'));
    assert.ok(!specs.includes('mcp__everything__toggle-simulated-logging'), 'denied tools are not offered');
    assert.ok(specs.every((name) => /^[A-Za-z0-9_-]{1,64}$/.test(name)));

    const answer = await api('POST', `/api/v1/hitl/${required.action_id}/confirm`, { approved: true });
    assert.equal(answer.status, 200, answer.text);
    await chat.waitForEnd();
    const result = chat.events.find((event) => event.event === 'tool_result')!.data;
    assert.equal(result.tool, 'mcp.everything.echo');
    assert.equal(result.success, true);
    assert.equal(result.result, 'Echo: via the agent');
    const toolMessage = (fake.requests.at(-1)!.body as any).messages.find((message: any) => message.role === 'tool');
    assert.equal(toolMessage.content, 'Echo: via the agent');
    assert.equal(chat.events.at(-1)!.event, 'done');
  });

  test("an MCP tool's image reaches a vision model as an image part, in later turns too", async () => {
    const sessionId = await newSession();
    fake.enqueue({ toolCalls: [{ name: 'mcp__everything__get-tiny-image', arguments: {}, id: 'call_image' }] }, { text: 'I see the logo.' });
    const chat = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token, method: 'POST', body: { content: 'show me the image' } });
    await chat.waitForEvent('confirm_required', 10_000);
    const required = chat.events.find((event) => event.event === 'confirm_required')!.data;
    assert.equal((await api('POST', `/api/v1/hitl/${required.action_id}/confirm`, { approved: true })).status, 200);
    await chat.waitForEnd();
    assert.equal(chat.events.at(-1)!.event, 'done');
    const imagePartsOf = (body: any) =>
      body.messages.flatMap((message: any) => (message.role === 'user' && Array.isArray(message.content) ? message.content.filter((part: any) => part.type === 'image_url') : []));
    const afterTool = fake.requests.at(-1)!.body as any;
    const toolIndex = afterTool.messages.findIndex((message: any) => message.role === 'tool');
    assert.match(afterTool.messages[toolIndex].content, /\[image 1: image\/png/);
    // The image follows the tool results as a user message, as every wire format allows.
    assert.equal(afterTool.messages[toolIndex + 1].role, 'user');
    const parts = imagePartsOf(afterTool);
    assert.equal(parts.length, 1);
    assert.match(parts[0].image_url.url, /^data:image\/png;base64,iVBOR/);
    // Stored with the tool result: the next turn of the session sends it again.
    fake.enqueue({ text: 'Still the logo.' });
    const next = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token, method: 'POST', body: { content: 'and again?' } });
    await next.waitForEnd();
    assert.equal(imagePartsOf(fake.requests.at(-1)!.body).length, 1);
  });

  test('/stop cancels a running MCP call', async () => {
    const sessionId = await newSession();
    fake.enqueue({ toolCalls: [{ name: 'mcp__everything__trigger-long-running-operation', arguments: { duration: 30, steps: 30 } }] });
    const chat = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token, method: 'POST', body: { content: 'take your time' } });
    await chat.waitForEvent('tool_call', 10_000);
    await sleep(300);
    const started = Date.now();
    const stop = await api('POST', `/api/v1/chat/${sessionId}/stop`);
    assert.deepEqual(stop.body, { stopped: true });
    await chat.waitForEvent('error', 5000);
    assert.equal(chat.events.find((event) => event.event === 'error')!.data.code, 'CANCELLED');
    assert.ok(Date.now() - started < 5000);
    await chat.waitForEnd();
    assert.ok(!chat.events.some((event) => event.event === 'tool_result' && event.data.success), 'the operation did not complete');
    assert.equal((await execute('mcp.everything.echo', { arguments: { message: 'after stop' } })).body.result, 'Echo: after stop');
  });

  test('tools/list_changed refreshes the tools; odd names get stable, valid, distinct wire names the agent can call', async () => {
    assert.deepEqual((await serverState('dyn')).tools, ['mcp.dyn.grow', 'mcp.dyn.shrink']);
    assert.equal((await execute('mcp.dyn.grow', { arguments: {} })).body.result, 'grow done');
    const names = [`mcp.dyn.${WEIRD}`, `mcp.dyn.${LONG}`, 'mcp.dyn.a b', 'mcp.dyn.a_b'];
    await waitUntil(async () => (await serverState('dyn')).tools.length === 6, 5000, 'the new tools');
    const tools = ((await api('GET', '/api/v1/mcp/tools')).body as any[]).filter((tool) => tool.server === 'dyn');
    const wireOf = (name: string) => tools.find((tool) => tool.name === name)!.wire_name as string;
    assert.equal(wireOf('mcp.dyn.a_b'), 'mcp__dyn__a_b');
    assert.match(wireOf('mcp.dyn.a b'), /^mcp__dyn__a_b_[0-9a-f]{8}$/);
    assert.match(wireOf(`mcp.dyn.${WEIRD}`), /^mcp__dyn__weird_name_with__dots_unicode_[0-9a-f]{8}$/);
    assert.equal(wireOf(`mcp.dyn.${LONG}`).length, 64);
    for (const name of names) assert.equal(wireOf(name), wireName(name), 'the same name always maps the same way');

    const weird = await api('GET', `/api/v1/mcp/tools/${encodeURIComponent(`mcp.dyn.${WEIRD}`)}/schema`);
    assert.equal(weird.status, 200, weird.text);
    assert.equal(weird.body.name, `mcp.dyn.${WEIRD}`);
    // Draft 2020-12 keywords are enforced: integer, minimum, additionalProperties, prefixItems + items:false.
    for (const args of [{ n: 0 }, { n: 1.5 }, { n: 1, extra: true }, { n: 1, tags: ['a', 'b'] }, {}]) {
      assert.equal((await execute(`mcp.dyn.${WEIRD}`, { arguments: args })).status, 400, JSON.stringify(args));
    }
    assert.equal((await execute(`mcp.dyn.${WEIRD}`, { arguments: { n: 2, tags: ['a'] } })).body.result, `called ${WEIRD} with {"n":2,"tags":["a"]}`);

    // The model calls the hashed wire name; events and results use the dotted name.
    const sessionId = await newSession();
    fake.enqueue({ toolCalls: [{ name: wireOf(`mcp.dyn.${WEIRD}`), arguments: { n: 7 } }] }, { text: 'ok' });
    const chat = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token, method: 'POST', body: { content: 'count' } });
    await chat.waitForEnd();
    const result = chat.events.find((event) => event.event === 'tool_result')!.data;
    assert.equal(result.tool, `mcp.dyn.${WEIRD}`);
    assert.equal(result.result, `called ${WEIRD} with {"n":7}`);

    assert.equal((await execute('mcp.dyn.shrink', { arguments: {} })).body.result, 'shrink done');
    await waitUntil(async () => (await serverState('dyn')).tools.length === 2, 5000, 'the odd tools removed');
    assert.equal((await api('GET', `/api/v1/mcp/tools/${encodeURIComponent(`mcp.dyn.${WEIRD}`)}/schema`)).status, 404);
  });

  test('a stdio server killed mid-session is reported failed and comes back by itself', async () => {
    const connection = server.inProcess!.mcpClients.connection('everything')!;
    const pid = connection.pid();
    assert.ok(pid && pid > 0);
    assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /server-everything/);
    process.kill(pid, 'SIGKILL');
    const failed = await waitUntil(async () => {
      const state = await serverState('everything');
      return state.status === 'failed' ? state : undefined;
    }, 5000, 'failed status', 10);
    assert.match(failed.error, /connection closed/);
    assert.ok(failed.tools.includes('mcp.everything.echo'), 'its tools stay listed while it reconnects');
    const during = await execute('mcp.everything.echo', { arguments: { message: 'x' } });
    if (during.body.success === false) assert.match(during.body.error, /not connected/);
    await waitUntil(async () => (await serverState('everything')).status === 'connected', 15_000, 'reconnected');
    assert.notEqual(connection.pid(), pid);
    assert.equal((await execute('mcp.everything.echo', { arguments: { message: 'back' } })).body.result, 'Echo: back');
  });
});

describe('wire names', () => {
  const tool = (name: string): Tool => ({
    name,
    description: name,
    inputSchema: undefined as never,
    defaultPolicy: 'allow',
    risk: () => 'low',
    describe: () => ({ operation: name, description: name }),
    execute: async () => ({ output: '', success: true }),
  });

  test('built-in and clean dotted names keep the reversible mapping', () => {
    assert.equal(wireName('file_read'), 'file_read');
    assert.equal(wireName('mcp.git-hub.search_issues'), 'mcp__git-hub__search_issues');
  });

  test('nasty names map into the wire alphabet, deterministically and distinctly', () => {
    const nasty = ['mcp.s.a b', 'mcp.s.a/b', 'mcp.s.a\u0000b', 'mcp.s.日本語', 'mcp.s.😀', 'mcp.s.', 'mcp.s.__', 'mcp.s.a__b', `mcp.s.${'é'.repeat(200)}`, 'mcp.s.a'.repeat(20)];
    const wires = nasty.map((name) => wireName(name));
    for (const wire of wires) assert.match(wire, /^[A-Za-z0-9_-]{1,64}$/, wire);
    assert.equal(new Set(wires).size, nasty.length);
    assert.deepEqual(nasty.map((name) => wireName(name)), wires);
    assert.ok(wires.every((wire) => wire.startsWith('mcp__s__')), 'the server prefix survives truncation');
  });

  test('a clash is resolved with a longer hash; lookups go through the tables', () => {
    const registry = new ToolRegistry();
    const hashed = wireName('mcp.s.a b');
    // A clean name that happens to equal another name's hashed wire name.
    const impostor = hashed.replaceAll('__', '.');
    registry.register(tool(impostor));
    registry.register(tool('mcp.s.a b'));
    assert.equal(registry.wireName(impostor), hashed);
    const longer = registry.wireName('mcp.s.a b');
    assert.match(longer, /^mcp__s__a_b_[0-9a-f]{12}$/);
    assert.equal(registry.get(longer)?.name, 'mcp.s.a b');
    assert.equal(registry.fromWireName(hashed), impostor);
    assert.equal(registry.unregister(longer), true);
    assert.equal(registry.get(longer), undefined);
    assert.equal(registry.get(hashed)?.name, impostor);
  });
});

describe('mcp server config', () => {
  const parse = (...servers: object[]) => configSchema.safeParse({ mcp: { servers } });
  const problems = (...servers: object[]) => {
    const result = parse(...servers);
    return result.success ? '' : result.error.issues.map((issue) => issue.message).join('; ');
  };

  test('names are one clean segment, unique; command xor url; stdio and HTTP keys do not mix', () => {
    assert.equal(parse({ name: 'git-hub_2', command: 'npx', cwd: '/tmp' }, { name: 'docs', url: 'https://example.com/mcp', headers: { A: 'b' } }).success, true);
    for (const name of ['a.b', 'a b', '', '_a', 'a__b', 'x'.repeat(33), 'ünï']) assert.match(problems({ name, command: 'x' }), /letters, digits|characters/, name);
    assert.match(problems({ name: 'a', command: 'x' }, { name: 'a', url: 'http://h/mcp' }), /unique/);
    assert.match(problems({ name: 'a' }), /exactly one of command or url/);
    assert.match(problems({ name: 'a', command: 'x', url: 'http://h/mcp' }), /exactly one of command or url/);
    assert.match(problems({ name: 'a', url: 'http://h/mcp', env: { A: '1' } }), /apply to a command/);
    assert.match(problems({ name: 'a', command: 'x', headers: { A: '1' } }), /apply to a url/);
    assert.match(problems({ name: 'a', url: 'file:///etc/passwd' }), /http\(s\)/);
    assert.match(problems({ name: 'a', command: 'x', timeout_s: 0 }), /too small|>0/i);
  });

  test('${env:NAME} references resolve from the given environment only; a missing one throws', () => {
    assert.deepEqual(resolveEnvReferences({ A: 'Bearer ${env:T}', B: '${env:T}-${env:U}', C: 'plain $T ${T} ${env:}' }, { T: 't', U: 'u' }, 'x'), {
      A: 'Bearer t',
      B: 't-u',
      C: 'plain $T ${T} ${env:}',
    });
    assert.throws(() => resolveEnvReferences({ A: '${env:NOPE}' }, {}, 'mcp server "s" headers'), /NOPE \(referenced by mcp server "s" headers\.A\) is not set/);
  });
});
