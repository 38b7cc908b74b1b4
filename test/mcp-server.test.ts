import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, CancelledNotificationSchema, ElicitRequestSchema, type ElicitRequest, type ElicitResult, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { startFakeModelServer } from './support/fake-model-server.js';
import { startFakeOpenAI } from './support/fake-openai.js';
import { fakeProviderToml } from './support/fake-provider-config.js';
import { registerUser, startTestServer, TestEnvironment } from './support/server.js';
import { SseClient } from './support/sse.js';

const LIMITS = '[limits]\nrequests_per_minute = 100000\nsse_concurrent = 50';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

type ElicitHandler = (request: ElicitRequest) => Promise<ElicitResult>;

interface Connected {
  client: Client;
  transport: StreamableHTTPClientTransport;
  close(): Promise<void>;
}

/** The official SDK client over Streamable HTTP; with `elicit` it declares the elicitation capability and answers with it. */
async function connect(baseUrl: string, options: { token?: string; elicit?: ElicitHandler } = {}): Promise<Connected> {
  const client = new Client({ name: 'tokendance-test', version: '1.0.0' }, { capabilities: options.elicit ? { elicitation: {} } : {} });
  if (options.elicit) client.setRequestHandler(ElicitRequestSchema, options.elicit);
  const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp`), { requestInit: { headers } });
  await client.connect(transport);
  return {
    client,
    transport,
    close: async () => {
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

const textOf = (result: CallToolResult) => result.content.map((part) => (part.type === 'text' ? part.text : '')).join('');

/** A JSON-RPC POST to /mcp as a raw client would send it. */
async function rawMcp(baseUrl: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, text, json: (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : undefined };
}

const initializeMessage = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

describe('TokenDance as an MCP server (/mcp)', () => {
  let fixture: Awaited<ReturnType<typeof startFakeModelServer>>;
  const open: Connected[] = [];
  const connectAs = async (options: { token?: string; elicit?: ElicitHandler } = {}) => {
    const connected = await connect(fixture.server.url, options);
    open.push(connected);
    return connected;
  };
  const workspaceDir = (sessionId: string) => join(fixture.server.environment.dir, 'data', 'workspaces', sessionId);

  before(async () => {
    fixture = await startFakeModelServer(`${LIMITS}\n[agent]\napproval_timeout_s = 600`);
  });
  after(async () => {
    for (const connected of open) await connected.close().catch(() => {});
    await fixture.shutdown();
  });

  test('lists run_task (with an output schema), list_sessions and get_session', async () => {
    const { client } = await connectAs({ token: fixture.user.token });
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    assert.deepEqual([...byName.keys()].sort(), ['get_session', 'list_sessions', 'run_task']);
    const runTask = byName.get('run_task')!;
    assert.deepEqual(runTask.inputSchema.required, ['prompt']);
    assert.ok(runTask.outputSchema, 'run_task declares an output schema');
    assert.ok(['task_id', 'session_id', 'status'].every((key) => key in (runTask.outputSchema!.properties ?? {})));
    assert.equal(byName.get('list_sessions')!.annotations?.readOnlyHint, true);
    assert.equal(client.getServerVersion()?.name, 'tokendance');
  });

  test('run_task runs a task to its end: the answer as text, task_id and session_id structured, progress live', async () => {
    const { fake, server, user } = fixture;
    fake.enqueue(
      { toolCalls: [{ name: 'file_write', arguments: { path: 'hello.txt', content: 'hi from mcp' } }] },
      { text: 'I wrote hello.txt for you, all done.' },
    );
    const { client } = await connectAs({ token: user.token });
    const progress: Progress[] = [];
    const result = (await client.callTool({ name: 'run_task', arguments: { prompt: 'write hello.txt' } }, undefined, {
      onprogress: (update) => progress.push(update),
    })) as CallToolResult;
    assert.equal(result.isError ?? false, false, textOf(result));
    assert.equal(textOf(result), 'I wrote hello.txt for you, all done.');
    const structured = result.structuredContent as Record<string, any>;
    assert.match(structured.task_id, UUID);
    assert.match(structured.session_id, UUID);
    assert.equal(structured.status, 'completed');
    assert.equal(structured.answer, 'I wrote hello.txt for you, all done.');
    assert.deepEqual(structured.artifacts.map((artifact: any) => artifact.path), ['hello.txt']);

    // Progress: strictly increasing, and it names the tool call as it happened.
    assert.ok(progress.length >= 1, 'progress notifications arrived');
    for (let index = 1; index < progress.length; index++) assert.ok(progress[index]!.progress > progress[index - 1]!.progress);
    const messages = progress.map((update) => update.message ?? '').join('\n');
    assert.match(messages, /Calling file_write\(.*hello\.txt/);
    assert.match(messages, /file_write finished/);

    // It is an ordinary session of the caller, in the default workspace, visible over REST.
    const session = await server.api('GET', `/api/v1/sessions/${structured.session_id}`, { token: user.token });
    assert.equal(session.status, 200);
    assert.equal(session.body.workspace_id, user.workspaceId);
    assert.equal(session.body.status, 'completed');
    assert.equal(session.body.title, 'write hello.txt');
    const history = await server.api('GET', `/api/v1/sessions/${structured.session_id}/messages`, { token: user.token });
    assert.equal(history.body.items[0].content, 'write hello.txt');
    assert.equal(history.body.items.at(-1).content, 'I wrote hello.txt for you, all done.');
    assert.ok(existsSync(join(workspaceDir(structured.session_id), 'hello.txt')));
  });

  test('run_task continues a given session with its history; task_type picks the profile of a new session; refusals are tool errors', async () => {
    const { fake, user } = fixture;
    const { client } = await connectAs({ token: user.token });
    const sessionId = await fixture.newSession();
    fake.enqueue({ text: 'First answer.' }, { text: 'Second answer.' });
    const first = (await client.callTool({ name: 'run_task', arguments: { prompt: 'remember the word kumquat', session_id: sessionId } })) as CallToolResult;
    assert.equal((first.structuredContent as any).session_id, sessionId);
    const second = (await client.callTool({ name: 'run_task', arguments: { prompt: 'which word?', session_id: sessionId } })) as CallToolResult;
    assert.equal(textOf(second), 'Second answer.');
    assert.equal((second.structuredContent as any).session_id, sessionId);
    assert.notEqual((second.structuredContent as any).task_id, (first.structuredContent as any).task_id);
    const sent = JSON.stringify(fake.requests.at(-1)!.body);
    assert.match(sent, /kumquat/, 'the model saw the earlier turn');

    fake.enqueue({ text: 'Report written.' });
    const research = (await client.callTool({ name: 'run_task', arguments: { prompt: 'research something', task_type: 'deep-research' } })) as CallToolResult;
    assert.equal(research.isError ?? false, false, textOf(research));
    const researchSession = await fixture.server.api('GET', `/api/v1/sessions/${(research.structuredContent as any).session_id}`, { token: user.token });
    assert.equal(researchSession.body.task_type, 'deep-research');

    const requestsBefore = fake.requests.length;
    const unknownType = (await client.callTool({ name: 'run_task', arguments: { prompt: 'x', task_type: 'no-such-profile' } })) as CallToolResult;
    assert.equal(unknownType.isError, true);
    assert.match(textOf(unknownType), /VALIDATION_ERROR: Unknown task_type "no-such-profile"/);
    const unknownSession = (await client.callTool({ name: 'run_task', arguments: { prompt: 'x', session_id: '00000000-0000-4000-8000-000000000000' } })) as CallToolResult;
    assert.equal(unknownSession.isError, true);
    assert.match(textOf(unknownSession), /NOT_FOUND/);
    const emptyPrompt = (await client.callTool({ name: 'run_task', arguments: { prompt: '' } })) as CallToolResult;
    assert.equal(emptyPrompt.isError, true);
    assert.match(textOf(emptyPrompt), /prompt/);
    const wrongType = (await client.callTool({ name: 'run_task', arguments: { prompt: { nested: true } } })) as CallToolResult;
    assert.equal(wrongType.isError, true);
    assert.equal(fake.requests.length, requestsBefore, 'no refused call reached the model');
  });

  test('a task that fails is a tool error with its code', async () => {
    const { fake, user } = fixture;
    const { client } = await connectAs({ token: user.token });
    fake.enqueue({ text: 'Half an answer', errorEvent: { message: 'upstream exploded' } });
    const result = (await client.callTool({ name: 'run_task', arguments: { prompt: 'fail please' } })) as CallToolResult;
    assert.equal(result.isError, true);
    const structured = result.structuredContent as any;
    assert.equal(structured.status, 'failed');
    assert.match(structured.task_id, UUID);
    assert.ok(structured.error_code && structured.error_code !== 'CANCELLED');
    assert.match(textOf(result), new RegExp(`The task failed \\(${structured.error_code}\\)`));
  });

  test('an approval is asked through elicitation: approving deletes the file and the approval is recorded as approved', async () => {
    const { fake, server, user } = fixture;
    const asked: ElicitRequest[] = [];
    const { client } = await connectAs({
      token: user.token,
      elicit: async (request) => {
        asked.push(request);
        return { action: 'accept', content: { approve: true } };
      },
    });
    const sessionId = await fixture.newSession();
    writeFileSync(join(workspaceDir(sessionId), 'notes.txt'), 'delete me');
    fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'notes.txt' }, id: 'call_del_mcp' }] }, { text: 'The file is deleted.' });
    const progress: Progress[] = [];
    const result = (await client.callTool({ name: 'run_task', arguments: { prompt: 'delete notes.txt', session_id: sessionId } }, undefined, {
      onprogress: (update) => progress.push(update),
    })) as CallToolResult;
    assert.equal(result.isError ?? false, false, textOf(result));
    assert.equal(textOf(result), 'The file is deleted.');
    assert.equal((result.structuredContent as any).status, 'completed');
    assert.equal(existsSync(join(workspaceDir(sessionId), 'notes.txt')), false, 'the approved tool ran');

    assert.equal(asked.length, 1);
    const params = asked[0]!.params as any;
    assert.match(params.message, /file_delete/);
    assert.match(params.message, /notes\.txt/);
    assert.match(params.message, /risk: high/);
    assert.equal(params.requestedSchema.properties.approve.type, 'boolean');
    assert.equal(params.requestedSchema.properties.feedback.type, 'string');
    assert.deepEqual(params.requestedSchema.required, ['approve']);
    const requestId = UUID.exec(params.message.slice(params.message.indexOf('Request ')))![0];
    const details = await server.api('GET', `/api/v1/hitl/${requestId}`, { token: user.token });
    assert.equal(details.status, 200);
    assert.equal(details.body.status, 'approved');
    assert.equal(details.body.context.call_id, 'call_del_mcp');
    assert.match(progress.map((update) => update.message).join('\n'), /Waiting for approval of file_delete/);
  });

  test('rejecting in the elicitation form keeps the file and hands the feedback to the model', async () => {
    const { fake, user } = fixture;
    const { client } = await connectAs({
      token: user.token,
      elicit: async () => ({ action: 'accept', content: { approve: false, feedback: 'Archive it instead' } }),
    });
    const sessionId = await fixture.newSession();
    writeFileSync(join(workspaceDir(sessionId), 'keep.txt'), 'precious');
    fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'keep.txt' } }] }, { text: 'Kept it.' });
    const result = (await client.callTool({ name: 'run_task', arguments: { prompt: 'delete keep.txt', session_id: sessionId } })) as CallToolResult;
    assert.equal(textOf(result), 'Kept it.');
    assert.ok(existsSync(join(workspaceDir(sessionId), 'keep.txt')));
    const toolMessages = (fake.requests.at(-1)!.body as any).messages.filter((message: any) => message.role === 'tool');
    assert.match(toolMessages.at(-1).content, /rejected by the user/i);
    assert.match(toolMessages.at(-1).content, /Archive it instead/);
  });

  test('a client without elicitation gets "waiting for approval"; the approval stays pending for the HITL API and the task goes on once answered', async () => {
    const { fake, server, user } = fixture;
    const { client } = await connectAs({ token: user.token });
    const sessionId = await fixture.newSession();
    writeFileSync(join(workspaceDir(sessionId), 'old.log'), 'x');
    fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'old.log' } }] }, { text: 'Cleaned up.' });
    const result = (await client.callTool({ name: 'run_task', arguments: { prompt: 'clean up', session_id: sessionId } })) as CallToolResult;
    assert.equal(result.isError ?? false, false);
    const structured = result.structuredContent as any;
    assert.equal(structured.status, 'waiting_for_approval');
    assert.equal(structured.session_id, sessionId);
    assert.match(structured.request_id, UUID);
    assert.deepEqual(structured.request_ids, [structured.request_id]);
    assert.match(textOf(result), new RegExp(`POST /api/v1/hitl/${structured.request_id}/confirm`));
    assert.match(textOf(result), /file_delete/);
    assert.ok(existsSync(join(workspaceDir(sessionId), 'old.log')), 'nothing ran without an answer');

    const pending = await server.api('GET', `/api/v1/sessions/${sessionId}/hitl/pending`, { token: user.token });
    assert.equal(pending.status, 200);
    assert.deepEqual(pending.body.map((request: any) => request.request_id), [structured.request_id]);
    assert.equal(pending.body[0].run_id, structured.task_id);
    const busy = (await client.callTool({ name: 'run_task', arguments: { prompt: 'another', session_id: sessionId } })) as CallToolResult;
    assert.equal(busy.isError, true);
    assert.match(textOf(busy), /CONFLICT: The session already has an active run/);

    const answer = await server.api('POST', `/api/v1/hitl/${structured.request_id}/confirm`, { token: user.token, body: { approved: true } });
    assert.equal(answer.status, 200);
    const stream = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream`, { token: user.token, lastEventId: 0 });
    try {
      await stream.waitFor((events) => events.some((event) => event.event === 'done' && event.data.run_id === structured.task_id));
    } finally {
      stream.close();
    }
    assert.equal(existsSync(join(workspaceDir(sessionId), 'old.log')), false);
    const read = (await client.callTool({ name: 'get_session', arguments: { session_id: sessionId } })) as CallToolResult;
    assert.equal((read.structuredContent as any).messages.items.at(-1).content, 'Cleaned up.');
  });

  test('an elicitation the user dismisses leaves the approval pending and returns "waiting for approval"', async () => {
    const { fake, server, user } = fixture;
    const { client } = await connectAs({ token: user.token, elicit: async () => ({ action: 'cancel' }) });
    const sessionId = await fixture.newSession();
    writeFileSync(join(workspaceDir(sessionId), 'maybe.txt'), 'x');
    fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'maybe.txt' } }] }, { text: 'Deleted.' });
    const result = (await client.callTool({ name: 'run_task', arguments: { prompt: 'delete maybe.txt', session_id: sessionId } })) as CallToolResult;
    assert.equal(result.isError ?? false, false);
    const structured = result.structuredContent as any;
    assert.equal(structured.status, 'waiting_for_approval');
    const details = await server.api('GET', `/api/v1/hitl/${structured.request_id}`, { token: user.token });
    assert.equal(details.body.status, 'pending');
    assert.ok(existsSync(join(workspaceDir(sessionId), 'maybe.txt')));
    // Declining is a rejection, though: answered over HITL here to close the run.
    await server.api('POST', `/api/v1/hitl/${structured.request_id}/confirm`, { token: user.token, body: { approved: false } });
  });

  test('an approval answered elsewhere withdraws the open elicitation and the task finishes', async () => {
    const { fake, server, user } = fixture;
    let asked: ((requestId: string | number) => void) | undefined;
    const askedOnce = new Promise<string | number>((resolve) => (asked = resolve));
    const { client } = await connectAs({
      token: user.token,
      // Never answered here: the approval is answered over HITL instead.
      elicit: (_request, extra) => {
        asked!(extra.requestId);
        return new Promise<ElicitResult>((resolve) => extra.signal.addEventListener('abort', () => resolve({ action: 'cancel' })));
      },
    });
    // Observed on the wire: the SDK client ignores a cancellation of request id 0 (its `!requestId` check), so its handler's signal is no witness.
    const cancelled: Array<string | number> = [];
    client.setNotificationHandler(CancelledNotificationSchema, (notification) => void cancelled.push(notification.params.requestId!));
    const sessionId = await fixture.newSession();
    writeFileSync(join(workspaceDir(sessionId), 'gone.txt'), 'x');
    fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'gone.txt' } }] }, { text: 'Gone.' });
    const call = client.callTool({ name: 'run_task', arguments: { prompt: 'delete gone.txt', session_id: sessionId } });
    const elicitationId = await askedOnce;
    const pending = await server.api('GET', `/api/v1/sessions/${sessionId}/hitl/pending`, { token: user.token });
    const answer = await server.api('POST', `/api/v1/hitl/${pending.body[0].request_id}/confirm`, { token: user.token, body: { approved: true } });
    assert.equal(answer.status, 200);
    const result = (await call) as CallToolResult;
    assert.equal(textOf(result), 'Gone.');
    assert.equal((result.structuredContent as any).status, 'completed');
    assert.equal(existsSync(join(workspaceDir(sessionId), 'gone.txt')), false);
    assert.deepEqual(cancelled, [elicitationId], 'the client was told the question no longer stands');
    const details = await server.api('GET', `/api/v1/hitl/${pending.body[0].request_id}`, { token: user.token });
    assert.equal(details.body.status, 'approved');
  });

  test('a user holds a bounded number of MCP sessions: the least recently used idle one makes room', async () => {
    const { server } = fixture;
    const owner = await registerUser(server.api);
    const auth = { authorization: `Bearer ${owner.token}` };
    const ids: string[] = [];
    for (let index = 0; index < 16; index++) {
      const response = await fetch(`${server.url}/mcp`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(initializeMessage),
      });
      assert.equal(response.status, 200);
      await response.text();
      ids.push(response.headers.get('mcp-session-id')!);
    }
    assert.equal(new Set(ids).size, 16);
    const ping = (id: string) => rawMcp(server.url, { jsonrpc: '2.0', id: 3, method: 'ping' }, { ...auth, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' });
    assert.equal((await ping(ids[0]!)).status, 200, 'touching the first makes the second the least recently used');
    const { close } = await connect(server.url, { token: owner.token });
    try {
      assert.equal((await ping(ids[1]!)).status, 404, 'the least recently used session was closed');
      assert.equal((await ping(ids[0]!)).status, 200);
      assert.equal((await ping(ids[2]!)).status, 200);
    } finally {
      await close();
    }
  });

  test('cancelling the request stops the run', async () => {
    const { fake, server, user } = fixture;
    const { client } = await connectAs({ token: user.token });
    const sessionId = await fixture.newSession();
    fake.enqueue({ tokens: 400, tokenText: 'slow ', tokenDelayMs: 25 });
    const controller = new AbortController();
    let sawText = false;
    const call = client.callTool({ name: 'run_task', arguments: { prompt: 'write a long essay', session_id: sessionId } }, undefined, {
      signal: controller.signal,
      onprogress: (update) => {
        if (/Writing: "….*slow/.test(update.message ?? '')) sawText = true;
      },
    });
    const deadline = Date.now() + 10_000;
    while (!sawText && Date.now() < deadline) await sleep(20);
    assert.ok(sawText, 'progress showed the streamed text');
    controller.abort('the user changed their mind');
    await assert.rejects(call);
    const stream = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream`, { token: user.token, lastEventId: 0 });
    try {
      const events = await stream.waitFor((list) => list.some((event) => event.event === 'error'), 5_000);
      assert.equal(events.find((event) => event.event === 'error')!.data.code, 'CANCELLED');
    } finally {
      stream.close();
    }
    const session = await server.api('GET', `/api/v1/sessions/${sessionId}?include_details=true`, { token: user.token });
    assert.equal(session.body.current_run, null);
    assert.equal(session.body.status, 'completed');
  });

  test("list_sessions and get_session show only the caller's sessions", async () => {
    const { server, fake, user } = fixture;
    const other = await registerUser(server.api);
    const otherSession = (await server.api('POST', '/api/v1/sessions', { token: other.token, body: { workspace_id: other.workspaceId, title: 'secret' } })).body.id;
    const ownSession = await fixture.newSession();
    fake.enqueue({ toolCalls: [{ name: 'plan_update', arguments: { content: '- [ ] step one' } }] }, { text: 'Planned.' });
    const { client } = await connectAs({ token: user.token });
    await client.callTool({ name: 'run_task', arguments: { prompt: 'plan it', session_id: ownSession } });

    const listed = (await client.callTool({ name: 'list_sessions', arguments: { limit: 100 } })) as CallToolResult;
    assert.equal(listed.isError ?? false, false, textOf(listed));
    const list = listed.structuredContent as any;
    const ids = list.items.map((session: any) => session.id);
    assert.ok(ids.includes(ownSession));
    assert.ok(!ids.includes(otherSession), "another user's session is not listed");
    assert.ok(list.items.every((session: any) => session.workspace_id === user.workspaceId));
    assert.equal(list.limit, 100);
    assert.deepEqual(JSON.parse(textOf(listed)), list);
    const paged = (await client.callTool({ name: 'list_sessions', arguments: { limit: 1, offset: 1 } })) as CallToolResult;
    assert.equal((paged.structuredContent as any).items.length, 1);
    assert.equal((paged.structuredContent as any).items[0].id, ids[1]);
    const foreignWorkspace = (await client.callTool({ name: 'list_sessions', arguments: { workspace_id: other.workspaceId } })) as CallToolResult;
    assert.equal(foreignWorkspace.isError, true);
    assert.match(textOf(foreignWorkspace), /FORBIDDEN/);

    const read = (await client.callTool({ name: 'get_session', arguments: { session_id: ownSession } })) as CallToolResult;
    assert.equal(read.isError ?? false, false, textOf(read));
    const details = read.structuredContent as any;
    assert.equal(details.session.id, ownSession);
    assert.equal(details.session.pending_approvals, 0);
    assert.deepEqual(details.messages.items.map((message: any) => message.role), ['user', 'assistant', 'tool', 'assistant']);
    assert.equal(details.messages.items[0].content, 'plan it');
    assert.match(details.working_memory.task_plan.content, /step one/);
    assert.equal(details.working_memory.session_id, ownSession);

    const foreign = (await client.callTool({ name: 'get_session', arguments: { session_id: otherSession } })) as CallToolResult;
    assert.equal(foreign.isError, true);
    assert.match(textOf(foreign), /FORBIDDEN/);
    assert.doesNotMatch(textOf(foreign), /secret/);
    const foreignRun = (await client.callTool({ name: 'run_task', arguments: { prompt: 'steal', session_id: otherSession } })) as CallToolResult;
    assert.equal(foreignRun.isError, true);
    assert.match(textOf(foreignRun), /FORBIDDEN/);
  });

  test("an MCP session is bound to the user who opened it: another user's token (or none) cannot use it", async () => {
    const { server, user } = fixture;
    const other = await registerUser(server.api);
    const { transport } = await connectAs({ token: user.token });
    const sessionId = transport.sessionId!;
    assert.match(sessionId, UUID);
    const listTools = { jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} };
    const mcpHeaders = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' };

    const asOwner = await rawMcp(server.url, listTools, { ...mcpHeaders, authorization: `Bearer ${user.token}` });
    assert.equal(asOwner.status, 200, asOwner.text);
    assert.match(asOwner.text, /run_task/);
    for (const headers of [{ authorization: `Bearer ${other.token}` }, {}]) {
      const refused = await rawMcp(server.url, listTools, { ...mcpHeaders, ...headers });
      assert.equal(refused.status, 404);
      assert.equal(refused.json.error_code, 'NOT_FOUND');
      assert.doesNotMatch(refused.text, /run_task/);
    }
    // Through the SDK client too: B's client given A's session id fails.
    const hijacker = new Client({ name: 'b', version: '1' });
    const stolen = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { sessionId, requestInit: { headers: { authorization: `Bearer ${other.token}` } } });
    await hijacker.connect(stolen).catch(() => {});
    await assert.rejects(hijacker.listTools(), (error: unknown) => error instanceof StreamableHTTPError && error.code === 404);
    await hijacker.close();
    // B cannot end it either; A still can.
    const deleteAsOther = await fetch(`${server.url}/mcp`, { method: 'DELETE', headers: { ...mcpHeaders, authorization: `Bearer ${other.token}` } });
    assert.equal(deleteAsOther.status, 404);
    await transport.terminateSession();
    const afterDelete = await rawMcp(server.url, listTools, { ...mcpHeaders, authorization: `Bearer ${user.token}` });
    assert.equal(afterDelete.status, 404);
  });

  test('local mode: a client without a token is accepted as the local user, who sees none of the registered users\' sessions', async () => {
    const { user } = fixture;
    const { client } = await connectAs();
    const listed = (await client.callTool({ name: 'list_sessions', arguments: {} })) as CallToolResult;
    assert.equal(listed.isError ?? false, false, textOf(listed));
    const ownOfUser = await fixture.newSession();
    assert.ok(!(listed.structuredContent as any).items.some((session: any) => session.id === ownOfUser));
    const foreign = (await client.callTool({ name: 'get_session', arguments: { session_id: ownOfUser } })) as CallToolResult;
    assert.equal(foreign.isError, true);
    // A token, when given, still decides who the caller is; an invalid one is refused, not downgraded to the local user.
    const invalid = await rawMcp(fixture.server.url, initializeMessage, { authorization: 'Bearer not-a-token' });
    assert.equal(invalid.status, 401);
    assert.equal(invalid.json.error_code, 'UNAUTHORIZED');
    assert.ok(user.token);
  });

  test('local mode trusts loopback names only: a DNS-rebound Host without a token is refused', async () => {
    const { port } = new URL(fixture.server.url);
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(
        { host: '127.0.0.1', port, path: '/mcp', method: 'POST', headers: { host: `attacker.example:${port}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' } },
        (response) => {
          let body = '';
          response.on('data', (chunk) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode!, body }));
        },
      );
      request.on('error', reject);
      request.end(JSON.stringify(initializeMessage));
    });
    assert.equal(status.status, 401);
    assert.equal(JSON.parse(status.body).error_code, 'UNAUTHORIZED');
    assert.match(JSON.parse(status.body).detail, /loopback name/);
  });

  test('protocol misuse gets the TokenDance error body', async () => {
    const { server, user } = fixture;
    const auth = { authorization: `Bearer ${user.token}` };
    const noSession = await rawMcp(server.url, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }, auth);
    assert.equal(noSession.status, 400);
    assert.equal(noSession.json.error_code, 'VALIDATION_ERROR');
    assert.match(noSession.json.detail, /Mcp-Session-Id/);
    const unknown = await rawMcp(server.url, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }, { ...auth, 'mcp-session-id': 'f'.repeat(5000) });
    assert.equal(unknown.status, 404);
    const malformed = await rawMcp(server.url, '{"jsonrpc":', auth);
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.error_code, 'VALIDATION_ERROR');
    const getWithout = await fetch(`${server.url}/mcp`, { headers: { ...auth, accept: 'text/event-stream' } });
    assert.equal(getWithout.status, 400);
    assert.equal((await getWithout.json()).error_code, 'VALIDATION_ERROR');
    const elsewhere = await fetch(`${server.url}/mcp/tools`, { headers: auth });
    assert.equal(elsewhere.status, 404);
    assert.equal((await elsewhere.json()).error_code, 'NOT_FOUND');
    // An initialize that the SDK refuses (no protocol version) leaves no session behind.
    const badInit = await rawMcp(server.url, { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }, auth);
    assert.notEqual(badInit.status, 200);
  });
});

describe('/mcp without local mode', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => {
    server = await startTestServer({ toml: `${LIMITS}\n[auth]\nlocal_mode = false` });
  });
  after(() => server.shutdown());

  test('a client without a token is refused with 401; with a token it works', async () => {
    await assert.rejects(connect(server.url), (error: unknown) => error instanceof StreamableHTTPError && error.code === 401 && /UNAUTHORIZED/.test(error.message));
    const raw = await rawMcp(server.url, initializeMessage);
    assert.equal(raw.status, 401);
    assert.equal(raw.json.error_code, 'UNAUTHORIZED');
    assert.ok(raw.json.timestamp && raw.json.detail);
    const user = await registerUser(server.api);
    const connected = await connect(server.url, { token: user.token });
    try {
      const listed = (await connected.client.callTool({ name: 'list_sessions', arguments: {} })) as CallToolResult;
      assert.equal(listed.isError ?? false, false);
      assert.deepEqual((listed.structuredContent as any).items, []);
      // The session id alone is no credential.
      const stolen = await rawMcp(server.url, { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }, { 'mcp-session-id': connected.transport.sessionId! });
      assert.equal(stolen.status, 401);
    } finally {
      await connected.close();
    }
  });
});

describe('/mcp across a server restart', () => {
  test('a run_task in flight when the server stops is not cancelled: the next server finishes it', async () => {
    const fake = await startFakeOpenAI();
    const environment = await TestEnvironment.create();
    const toml = `${fakeProviderToml(fake.baseUrl)}\n${LIMITS}`;
    let server = await environment.start({ toml });
    try {
      const user = await registerUser(server.api);
      const sessionId = (await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;
      fake.enqueue({ tokens: 300, tokenText: 'slow ', tokenDelayMs: 20 }, { text: 'Finished after the restart.' });
      const { client } = await connect(server.url, { token: user.token });
      let streaming = false;
      const call = client.callTool({ name: 'run_task', arguments: { prompt: 'long task', session_id: sessionId } }, undefined, {
        onprogress: (update) => {
          if (/slow/.test(update.message ?? '')) streaming = true;
        },
      });
      call.catch(() => {});
      const deadline = Date.now() + 10_000;
      while (!streaming && Date.now() < deadline) await sleep(20);
      assert.ok(streaming);
      await server.stop();
      await assert.rejects(call);
      await client.close().catch(() => {});

      server = await environment.start({ toml });
      const stream = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream`, { token: user.token, lastEventId: 0 });
      try {
        const events = await stream.waitFor((list) => list.some((event) => event.event === 'done' || event.event === 'error'), 15_000);
        assert.equal(events.find((event) => event.event === 'error'), undefined, 'the run was not cancelled');
        assert.equal(events.find((event) => event.event === 'done')!.data.content, 'Finished after the restart.');
      } finally {
        stream.close();
      }
    } finally {
      await server.stop();
      await environment.destroy();
      await fake.close();
    }
  });
});
