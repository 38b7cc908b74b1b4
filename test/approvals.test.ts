import assert from 'node:assert/strict';
import { existsSync, linkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeOpenAI } from './support/fake-openai.js';
import { fakeProviderToml } from './support/fake-provider-config.js';
import { startFakeModelServer } from './support/fake-model-server.js';
import { registerUser, startTestServer, TestEnvironment } from './support/server.js';
import { SseClient } from './support/sse.js';

const LIMITS = '[limits]\nrequests_per_minute = 100000\nsse_concurrent = 20';

const waitUntil = async (check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition') => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met in time`);
    await sleep(25);
  }
};

/** Waits for the first frame named `name` and returns it. */
const firstEvent = async (client: SseClient, name: string, timeoutMs = 10_000) => {
  await client.waitForEvent(name, timeoutMs);
  return client.events.find((event) => event.event === name)!;
};

/** The model's view of the conversation: what the last request sent as tool results. */
const toolMessagesOf = (body: any): string[] => body.messages.filter((message: any) => message.role === 'tool').map((message: any) => message.content);

describe('human approval (HITL) through the chat stream', () => {
  let fixture: Awaited<ReturnType<typeof startFakeModelServer>>;
  before(async () => {
    fixture = await startFakeModelServer(`${LIMITS}\n[agent]\napproval_timeout_s = 600`);
  });
  after(() => fixture.shutdown());

  const send = (sessionId: string, content: string, token = fixture.user.token) =>
    SseClient.open(`${fixture.server.url}/api/v1/chat/${sessionId}/message`, { token, method: 'POST', body: { content } });
  const workspaceDir = (sessionId: string) => join(fixture.server.environment.dir, 'data', 'workspaces', sessionId);

  test("the seed's example: write, then delete asks; approve → the file is gone and the run finishes", async () => {
    const { fake, server, user } = fixture;
    const sessionId = await fixture.newSession();
    fake.enqueue(
      { toolCalls: [{ name: 'file_write', arguments: { path: 'notes.txt', content: 'hello' } }] },
      { toolCalls: [{ name: 'file_delete', arguments: { path: 'notes.txt' }, id: 'call_delete_1' }] },
      { text: 'The file is deleted.' },
    );
    const chat = await send(sessionId, 'write notes.txt then delete it');
    const required = await firstEvent(chat, 'confirm_required');
    assert.equal(required.data.tool, 'file_delete');
    assert.equal(required.data.operation, 'file_delete');
    assert.match(required.data.description, /notes\.txt/);
    assert.equal(required.data.risk_level, 'high');
    assert.deepEqual(required.data.args, { path: 'notes.txt' });
    assert.ok(Date.parse(required.data.expires_at) > Date.now());
    const toolCall = chat.events.filter((event) => event.event === 'tool_call').at(-1)!;
    assert.equal(toolCall.data.risk_level, 'high');
    assert.ok(existsSync(join(workspaceDir(sessionId), 'notes.txt')), 'nothing ran before the answer');

    const pending = await server.api('GET', `/api/v1/sessions/${sessionId}/hitl/pending`, { token: user.token });
    assert.equal(pending.status, 200);
    assert.equal(pending.body.length, 1);
    const request = pending.body[0];
    assert.equal(request.request_id, required.data.action_id);
    assert.equal(request.operation, 'file_delete');
    assert.equal(request.context.tool, 'file_delete');
    assert.equal(request.context.file_path, 'notes.txt');
    assert.deepEqual(request.context.args, { path: 'notes.txt' });
    const session = await server.api('GET', `/api/v1/sessions/${sessionId}?include_details=true`, { token: user.token });
    assert.equal(session.body.pending_approvals, 1);
    assert.equal(session.body.current_run.state, 'waiting_approval');
    // The chat stream stays open through the pause.
    assert.equal(chat.ended, false);

    const answer = await server.api('POST', `/api/v1/hitl/${request.request_id}/confirm`, { token: user.token, body: { approved: true } });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.request_id, request.request_id);
    assert.equal(answer.body.approved, true);
    assert.equal(answer.body.user_feedback, null);
    assert.match(answer.body.responded_at, /Z$/);
    await chat.waitForEnd();
    const names = chat.events.map((event) => event.event);
    const order = ['confirm_required', 'confirm_resolved', 'tool_result', 'done'].map((name) => names.lastIndexOf(name));
    assert.ok(order.every((index, position) => index >= 0 && (position === 0 || index > order[position - 1]!)), names.join(','));
    assert.equal(names.filter((name) => name === 'tool_call').length, 2, 'the paused call is announced once');
    const result = chat.events.filter((event) => event.event === 'tool_result').at(-1)!;
    assert.equal(result.data.tool, 'file_delete');
    assert.equal(result.data.success, true);
    assert.equal(result.data.call_id, 'call_delete_1');
    assert.equal(existsSync(join(workspaceDir(sessionId), 'notes.txt')), false);
    assert.equal(chat.events.at(-1)!.data.content, 'The file is deleted.');
    const details = await server.api('GET', `/api/v1/hitl/${request.request_id}`, { token: user.token });
    assert.equal(details.body.status, 'approved');
    // Single use: a second answer through either endpoint is a 409.
    const again = await server.api('POST', `/api/v1/hitl/${request.request_id}/confirm`, { token: user.token, body: { approved: false } });
    assert.equal(again.status, 409);
    assert.equal(again.body.error_code, 'CONFLICT');
    const viaChat = await server.api('POST', `/api/v1/chat/${sessionId}/confirm`, { token: user.token, body: { action_id: request.request_id, confirmed: true } });
    assert.equal(viaChat.status, 409);
    // The deleted file is no longer an artifact.
    const artifacts = await server.api('GET', `/api/v1/sessions/${sessionId}/artifacts`, { token: user.token });
    assert.deepEqual(artifacts.body.items.map((item: any) => item.path), []);
  });

  test('reject with feedback through the chat endpoint: the tool does not run and the model reads the feedback', async () => {
    const { fake, server, user } = fixture;
    const sessionId = await fixture.newSession();
    writeFileSync(join(workspaceDir(sessionId), 'keep.txt'), 'precious');
    fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'keep.txt' } }] }, { text: 'Understood, I kept it.' });
    const chat = await send(sessionId, 'delete keep.txt');
    const required = await firstEvent(chat, 'confirm_required');
    const requestCount = fake.requests.length;
    const answer = await server.api('POST', `/api/v1/chat/${sessionId}/confirm`, {
      token: user.token,
      body: { action_id: required.data.action_id, confirmed: false, feedback: 'Keep it, archive it instead' },
    });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual({ approved: answer.body.approved, user_feedback: answer.body.user_feedback }, { approved: false, user_feedback: 'Keep it, archive it instead' });
    await chat.waitForEnd();
    assert.ok(existsSync(join(workspaceDir(sessionId), 'keep.txt')), 'the file stays');
    const result = chat.events.find((event) => event.event === 'tool_result')!;
    assert.equal(result.data.success, false);
    assert.match(result.data.result, /rejected by the user/i);
    const resolved = chat.events.find((event) => event.event === 'confirm_resolved')!;
    assert.equal(resolved.data.approved, false);
    const next = fake.requests[requestCount]!.body as any;
    const toolMessages = toolMessagesOf(next);
    assert.match(toolMessages.at(-1)!, /rejected by the user/i);
    assert.match(toolMessages.at(-1)!, /Keep it, archive it instead/);
    assert.equal(chat.events.at(-1)!.event, 'done');
  });

  test('approval feedback reaches the model too; answers are refused for other users and unknown ids', async () => {
    const { fake, server, user } = fixture;
    const sessionId = await fixture.newSession();
    writeFileSync(join(workspaceDir(sessionId), 'old.log'), 'x');
    fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'old.log' } }] }, { text: 'ok' });
    const chat = await send(sessionId, 'clean up');
    const required = await firstEvent(chat, 'confirm_required');
    const stranger = await registerUser(server.api);
    const list = await server.api('GET', `/api/v1/sessions/${sessionId}/hitl/pending`, { token: stranger.token });
    assert.equal(list.status, 403);
    const get = await server.api('GET', `/api/v1/hitl/${required.data.action_id}`, { token: stranger.token });
    assert.equal(get.status, 403);
    const steal = await server.api('POST', `/api/v1/hitl/${required.data.action_id}/confirm`, { token: stranger.token, body: { approved: true } });
    assert.equal(steal.status, 403);
    const strangerSession = (await server.api('POST', '/api/v1/sessions', { token: stranger.token, body: { workspace_id: stranger.workspaceId } })).body.id;
    const crossSession = await server.api('POST', `/api/v1/chat/${strangerSession}/confirm`, { token: stranger.token, body: { action_id: required.data.action_id, confirmed: true } });
    assert.ok(crossSession.status === 403 || crossSession.status === 404, String(crossSession.status));
    const wrongSession = await server.api('POST', `/api/v1/chat/${await fixture.newSession()}/confirm`, { token: user.token, body: { action_id: required.data.action_id, confirmed: true } });
    assert.equal(wrongSession.status, 404);
    assert.equal((await server.api('GET', '/api/v1/hitl/00000000-0000-4000-8000-000000000000', { token: user.token })).status, 404);
    assert.equal((await server.api('POST', '/api/v1/hitl/nope/confirm', { token: user.token, body: { approved: true } })).status, 404);
    assert.equal((await server.api('POST', `/api/v1/hitl/${required.data.action_id}/confirm`, { token: user.token, body: { approved: 'yes' } })).status, 400);
    assert.equal((await server.api('POST', `/api/v1/hitl/${required.data.action_id}/confirm`, { body: { approved: true } })).status, 401);
    const requestCount = fake.requests.length;
    const answer = await server.api('POST', `/api/v1/hitl/${required.data.action_id}/confirm`, { token: user.token, body: { approved: true, user_feedback: 'fine, but log it' } });
    assert.equal(answer.status, 200);
    await chat.waitForEnd();
    assert.match(toolMessagesOf(fake.requests[requestCount]!.body).at(-1)!, /fine, but log it/);
  });

  test('an unanswered request expires as a rejection', async () => {
    const expiring = await startFakeModelServer(`${LIMITS}\n[agent]\napproval_timeout_s = 1`);
    try {
      const sessionId = await expiring.newSession();
      expiring.fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'x.txt' } }] }, { text: 'It expired, so I left it.' });
      const chat = await SseClient.open(`${expiring.server.url}/api/v1/chat/${sessionId}/message`, { token: expiring.user.token, method: 'POST', body: { content: 'delete x.txt' } });
      const required = await firstEvent(chat, 'confirm_required');
      await chat.waitForEnd();
      const resolved = chat.events.find((event) => event.event === 'confirm_resolved')!;
      assert.equal(resolved.data.approved, false);
      assert.equal(resolved.data.expired, true);
      assert.match(chat.events.find((event) => event.event === 'tool_result')!.data.result, /expired/);
      assert.equal(chat.events.at(-1)!.event, 'done');
      const details = await expiring.server.api('GET', `/api/v1/hitl/${required.data.action_id}`, { token: expiring.user.token });
      assert.equal(details.body.status, 'expired');
      const late = await expiring.server.api('POST', `/api/v1/hitl/${required.data.action_id}/confirm`, { token: expiring.user.token, body: { approved: true } });
      assert.equal(late.status, 409);
    } finally {
      await expiring.shutdown();
    }
  });

  test('stop while waiting ends the run as cancelled and closes its request', async () => {
    const { fake, server, user } = fixture;
    const sessionId = await fixture.newSession();
    fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'y.txt' } }] });
    const chat = await send(sessionId, 'delete y.txt');
    const required = await firstEvent(chat, 'confirm_required');
    const stop = await server.api('POST', `/api/v1/chat/${sessionId}/stop`, { token: user.token });
    assert.deepEqual(stop.body, { stopped: true });
    await chat.waitForEnd();
    assert.equal(chat.events.at(-1)!.data.code, 'CANCELLED');
    assert.equal((await server.api('GET', `/api/v1/hitl/${required.data.action_id}`, { token: user.token })).body.status, 'expired');
    assert.equal((await server.api('POST', `/api/v1/hitl/${required.data.action_id}/confirm`, { token: user.token, body: { approved: true } })).status, 409);
    assert.equal((await server.api('GET', `/api/v1/sessions/${sessionId}`, { token: user.token })).body.status, 'completed');
  });

  test('the tool runs with exactly the approved arguments: a changed call is refused', async () => {
    const { fake, server, user } = fixture;
    const sessionId = await fixture.newSession();
    writeFileSync(join(workspaceDir(sessionId), 'a.txt'), 'a');
    writeFileSync(join(workspaceDir(sessionId), 'b.txt'), 'b');
    fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'a.txt' } }] }, { text: 'done' });
    const chat = await send(sessionId, 'delete a.txt');
    const required = await firstEvent(chat, 'confirm_required');
    // Tamper with the stored call while it waits (as a compromised writer might): the approval no longer matches.
    const { store } = fixture.server.inProcess!.context;
    const messages = await store.messages.all(sessionId);
    const call = messages.findLast((message) => message.tool_calls)!;
    await store.handle.db.updateTable('messages').set({ tool_calls: call.tool_calls!.replace('a.txt', 'b.txt') }).where('id', '=', call.id).execute();
    await server.api('POST', `/api/v1/hitl/${required.data.action_id}/confirm`, { token: user.token, body: { approved: true } });
    await chat.waitForEnd();
    assert.ok(existsSync(join(workspaceDir(sessionId), 'a.txt')));
    assert.ok(existsSync(join(workspaceDir(sessionId), 'b.txt')));
    assert.match(chat.events.find((event) => event.event === 'tool_result')!.data.result, /differ from the ones the user was asked to approve/);
  });

  test('file tools refuse traversal, absolute paths, NUL, over-long names and hard links', async () => {
    const { fake, user, server } = fixture;
    const sessionId = await fixture.newSession();
    const outside = join(fixture.server.environment.dir, 'outside.txt');
    writeFileSync(outside, 'outside');
    linkSync(outside, join(workspaceDir(sessionId), 'linked.txt'));
    const attempts = ['../outside.txt', outside, 'a\u0000b', `${'n'.repeat(300)}.txt`, 'linked.txt'];
    await server.api('PATCH', `/api/v1/workspaces/${user.workspaceId}`, { token: user.token, body: { tool_policy: { file_delete: 'allow' } } });
    try {
      fake.enqueue({ toolCalls: attempts.map((path, index) => ({ name: 'file_delete', arguments: { path }, id: `bad_${index}` })) }, { text: 'refused' });
      const chat = await send(sessionId, 'escape');
      await chat.waitForEnd();
      const results = chat.events.filter((event) => event.event === 'tool_result');
      assert.equal(results.length, attempts.length);
      for (const result of results) assert.equal(result.data.success, false, result.data.result);
      assert.match(results[0]!.data.result, /leaves the workspace/);
      assert.match(results[1]!.data.result, /outside the workspace/);
      assert.match(results[2]!.data.result, /NUL/);
      assert.match(results[3]!.data.result, /longer than 255 bytes/);
      assert.match(results[4]!.data.result, /hard links/);
      assert.ok(existsSync(outside));
    } finally {
      await server.api('PATCH', `/api/v1/workspaces/${user.workspaceId}`, { token: user.token, body: { tool_policy: null } });
    }
  });
});

describe('tool policy per workspace', () => {
  let fixture: Awaited<ReturnType<typeof startFakeModelServer>>;
  before(async () => {
    fixture = await startFakeModelServer(`${LIMITS}\n[tools.policy]\nfile_list = "deny"`);
  });
  after(() => fixture.shutdown());

  test('members set it with PATCH and see it in GET; deny hides a tool, allow skips the approval, server deny stands', async () => {
    const { server, user, fake } = fixture;
    const stranger = await registerUser(server.api);
    const forbidden = await server.api('PATCH', `/api/v1/workspaces/${user.workspaceId}`, { token: stranger.token, body: { tool_policy: { file_write: 'allow' } } });
    assert.equal(forbidden.status, 403);
    for (const bad of [{ tool_policy: { shell: 'maybe' } }, { tool_policy: { 'bad name!': 'deny' } }, { tool_policy: 'deny' }]) {
      assert.equal((await server.api('PATCH', `/api/v1/workspaces/${user.workspaceId}`, { token: user.token, body: bad })).status, 400, JSON.stringify(bad));
    }
    const policy = { file_write: 'deny', file_delete: 'allow', file_list: 'allow' };
    const patched = await server.api('PATCH', `/api/v1/workspaces/${user.workspaceId}`, { token: user.token, body: { tool_policy: policy } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(patched.body.tool_policy, policy);
    assert.deepEqual((await server.api('GET', `/api/v1/workspaces/${user.workspaceId}`, { token: user.token })).body.tool_policy, policy);

    const sessionId = await fixture.newSession();
    const workspace = join(server.environment.dir, 'data', 'workspaces', sessionId);
    writeFileSync(join(workspace, 'tmp.txt'), 'x');
    fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'tmp.txt' } }, { name: 'file_write', arguments: { path: 'w.txt', content: 'w' } }] }, { text: 'ok' });
    const before = fake.requests.length;
    const chat = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token: user.token, method: 'POST', body: { content: 'go' } });
    await chat.waitForEnd();
    const offered = (fake.requests[before]!.body as any).tools.map((tool: any) => tool.function.name);
    assert.ok(!offered.includes('file_write'), 'a denied tool is not offered');
    assert.ok(!offered.includes('file_list'), "the server's deny stands");
    assert.ok(offered.includes('file_delete'));
    assert.equal(chat.events.some((event) => event.event === 'confirm_required'), false, 'allow needs no approval');
    const results = chat.events.filter((event) => event.event === 'tool_result');
    assert.equal(results[0]!.data.success, true);
    assert.equal(existsSync(join(workspace, 'tmp.txt')), false);
    assert.equal(results[1]!.data.success, false);
    assert.match(results[1]!.data.result, /denied by policy/);
    assert.equal(existsSync(join(workspace, 'w.txt')), false);
    await server.api('PATCH', `/api/v1/workspaces/${user.workspaceId}`, { token: user.token, body: { tool_policy: null } });
  });
});

describe('approvals survive restarts and serve the Service API', () => {
  test('restart and kill -9 while waiting, then approve: the run finishes', async () => {
    const fake = await startFakeOpenAI();
    const environment = await TestEnvironment.create();
    const toml = `${fakeProviderToml(fake.baseUrl)}\n${LIMITS}`;
    let server = await environment.spawn({ toml });
    try {
      const user = await registerUser(server.api);
      const sessionId = (await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;
      fake.enqueue(
        { toolCalls: [{ name: 'file_write', arguments: { path: 'doomed.txt', content: 'bye' } }] },
        { toolCalls: [{ name: 'file_delete', arguments: { path: 'doomed.txt' } }] },
        { text: 'Deleted after the restart.' },
      );
      const chat = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token: user.token, method: 'POST', body: { content: 'go' } });
      const required = await firstEvent(chat, 'confirm_required');
      chat.close();
      await server.stop();
      server = await environment.spawn({ toml });
      let pending = await server.api('GET', `/api/v1/sessions/${sessionId}/hitl/pending`, { token: user.token });
      assert.deepEqual(pending.body.map((item: any) => item.request_id), [required.data.action_id]);
      await server.kill();
      server = await environment.spawn({ toml });
      pending = await server.api('GET', `/api/v1/sessions/${sessionId}/hitl/pending`, { token: user.token });
      assert.deepEqual(pending.body.map((item: any) => item.request_id), [required.data.action_id]);
      assert.equal(fake.requests.length, 2, 'a parked run makes no model call on restart');
      const stream = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream`, { token: user.token, lastEventId: required.id });
      const answer = await server.api('POST', `/api/v1/hitl/${required.data.action_id}/confirm`, { token: user.token, body: { approved: true } });
      assert.equal(answer.status, 200, answer.text);
      await stream.waitForEvent('done', 20_000);
      stream.close();
      assert.equal(stream.events.find((event) => event.event === 'done')!.data.content, 'Deleted after the restart.');
      assert.equal(existsSync(join(environment.dir, 'data', 'workspaces', sessionId, 'doomed.txt')), false);
    } finally {
      await server.stop();
      await environment.destroy();
      await fake.close();
    }
  });

  test('a request that expired while the server was down is handled as a rejection at start', async () => {
    const fake = await startFakeOpenAI();
    const environment = await TestEnvironment.create();
    const toml = `${fakeProviderToml(fake.baseUrl)}\n${LIMITS}\n[agent]\napproval_timeout_s = 1`;
    let server = await environment.start({ toml });
    try {
      const user = await registerUser(server.api);
      const sessionId = (await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;
      fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'z.txt' } }] }, { text: 'Left it alone.' });
      const chat = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token: user.token, method: 'POST', body: { content: 'go' } });
      const required = await firstEvent(chat, 'confirm_required');
      chat.close();
      await server.stop();
      await sleep(1500);
      server = await environment.start({ toml });
      await waitUntil(async () => (await server.api('GET', `/api/v1/sessions/${sessionId}`, { token: user.token })).body.status === 'completed', 10_000, 'the run to finish');
      assert.equal((await server.api('GET', `/api/v1/hitl/${required.data.action_id}`, { token: user.token })).body.status, 'expired');
      const messages = await server.api('GET', `/api/v1/sessions/${sessionId}/messages`, { token: user.token });
      assert.equal(messages.body.items.at(-1).content, 'Left it alone.');
    } finally {
      await server.stop();
      await environment.destroy();
      await fake.close();
    }
  });

  test('the Service API flow: WaitingForApproval, approval_required on /api/stream, approve, task_completed', async () => {
    const fake = await startFakeOpenAI();
    const server = await startTestServer({ toml: `${fakeProviderToml(fake.baseUrl)}\n${LIMITS}` });
    try {
      const stream = await SseClient.open(`${server.url}/api/stream`);
      fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'svc.txt' } }] }, { text: 'service done' });
      const execute = await server.api('POST', '/api/execute', { body: { prompt: 'delete svc.txt' } });
      const taskId = execute.body.data.task_id;
      const required = await stream.waitFor((events) => events.find((event) => event.data.type === 'approval_required'), 10_000);
      const approvalFrame = stream.events.find((event) => event.data.type === 'approval_required')!.data;
      assert.equal(approvalFrame.name, 'file_delete');
      assert.equal(approvalFrame.run_id, taskId);
      assert.ok(required);
      const status = await server.api('GET', '/api/status');
      assert.equal(status.body.data.state, 'WaitingForApproval');
      assert.equal(status.body.data.is_running, true);
      // Local mode has no token: the Service API answers its own session's approvals.
      const pending = await server.api('GET', '/api/approvals');
      assert.equal(pending.status, 200);
      assert.deepEqual(pending.body.data.items.map((item: any) => item.request_id), [approvalFrame.request_id]);
      const answer = await server.api('POST', `/api/approvals/${approvalFrame.request_id}/confirm`, { body: { approved: true } });
      assert.equal(answer.body.success, true);
      assert.equal(answer.body.data.approved, true);
      assert.equal(answer.status, 200, answer.text);
      await stream.waitFor((events) => events.some((event) => event.data.type === 'task_completed'), 10_000);
      stream.close();
      const resolved = stream.events.find((event) => event.data.type === 'approval_resolved')!.data;
      assert.deepEqual({ request_id: resolved.request_id, approved: resolved.approved }, { request_id: approvalFrame.request_id, approved: true });
      assert.equal(stream.events.find((event) => event.data.type === 'task_completed')!.data.success, true);
      assert.equal((await server.api('GET', '/api/status')).body.data.state, 'Idle');
      const twice = await server.api('POST', `/api/approvals/${approvalFrame.request_id}/confirm`, { body: { approved: true } });
      assert.equal(twice.status, 409);
      assert.equal(twice.body.success, false);
    } finally {
      await server.shutdown();
      await fake.close();
    }
  });
});

