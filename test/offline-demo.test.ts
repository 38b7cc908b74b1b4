import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFakeSearxng, type FakeSite } from './support/fake-web.js';
import { registerUser, startTestServer } from './support/server.js';
import { type SseEvent, SseClient } from './support/sse.js';

// What a new user sees in the first minute: no provider configured (and none in the env, which
// tests pass explicitly as {}), so the offline demo model answers through the real agent loop.

const LIMITS = '[limits]\nrequests_per_minute = 100000';

type Server = Awaited<ReturnType<typeof startTestServer>>;
type User = Awaited<ReturnType<typeof registerUser>>;

const named = (events: SseEvent[], name: string) => events.filter((event) => event.event === name);
const contentText = (events: SseEvent[]) => named(events, 'content').map((event) => event.data.text).join('');

function demo(server: () => Server, user: () => User) {
  return {
    newSession: async (): Promise<string> => {
      const response = await server().api('POST', '/api/v1/sessions', { token: user().token, body: { workspace_id: user().workspaceId } });
      assert.equal(response.status, 201);
      return response.body.id;
    },
    send: async (sessionId: string, content: string): Promise<SseClient> => {
      const stream = await SseClient.open(`${server().url}/api/v1/chat/${sessionId}/message`, { token: user().token, method: 'POST', body: { content } });
      assert.equal(stream.status, 200, JSON.stringify(stream.errorBody));
      return stream;
    },
    workspaceDir: (sessionId: string) => join(server().environment.dir, 'data', 'workspaces', sessionId),
  };
}

describe('offline demo model, no search backend', () => {
  let server: Server;
  let user: User;
  const { newSession, send, workspaceDir } = demo(() => server, () => user);

  before(async () => {
    server = await startTestServer({ toml: LIMITS, env: {} });
    user = await registerUser(server.api);
  });
  after(() => server.shutdown());

  test('the server says it runs the offline demo model', async () => {
    const health = await server.api('GET', '/api/health');
    assert.equal(health.body.data.model.offline, true);
    assert.equal(health.body.data.model.default, 'offline');
  });

  test('write, then delete with approval: the file appears, the delete waits for a human, then the file is gone', async () => {
    const sessionId = await newSession();

    // 1. "write file notes.txt: hello" → a real file_write call.
    const write = await send(sessionId, 'write file notes.txt: hello');
    await write.waitForEnd();
    const [writeCall] = named(write.events, 'tool_call');
    assert.equal(writeCall!.data.tool, 'file_write');
    assert.deepEqual(writeCall!.data.args, { path: 'notes.txt', content: 'hello' });
    const [writeResult] = named(write.events, 'tool_result');
    assert.equal(writeResult!.data.success, true);
    assert.equal(writeResult!.data.call_id, writeCall!.data.call_id);
    assert.equal(writeResult!.data.result, 'Created notes.txt (5 bytes written).');
    assert.match(named(write.events, 'thinking')[0]!.data.reasoning, /offline demo model/i);
    assert.equal(readFileSync(join(workspaceDir(sessionId), 'notes.txt'), 'utf8'), 'hello');
    const writeDone = write.events.at(-1)!;
    assert.equal(writeDone.event, 'done');
    assert.equal(writeDone.data.content, contentText(write.events), 'done carries the streamed answer');
    assert.match(writeDone.data.content, /Created notes\.txt \(5 bytes written\)/);
    assert.match(writeDone.data.content, /delete file notes\.txt/, 'points to the next thing to try');
    assert.deepEqual(writeDone.data.artifacts.map((artifact: { name: string }) => artifact.name), ['notes.txt']);
    assert.equal(writeDone.data.iterations, 2);

    // 2. "delete file notes.txt" → file_delete asks first: confirm_required on the chat stream.
    const remove = await send(sessionId, 'delete file notes.txt');
    await remove.waitForEvent('confirm_required');
    const required = named(remove.events, 'confirm_required')[0]!;
    assert.equal(required.data.tool, 'file_delete');
    assert.equal(required.data.operation, 'file_delete');
    assert.deepEqual(required.data.args, { path: 'notes.txt' });
    assert.match(required.data.description, /notes\.txt/);
    assert.equal(required.data.risk_level, 'high');
    assert.equal(remove.ended, false, 'the chat stream stays open while the run waits');
    assert.ok(existsSync(join(workspaceDir(sessionId), 'notes.txt')), 'nothing is deleted before the answer');

    const pending = await server.api('GET', `/api/v1/sessions/${sessionId}/hitl/pending`, { token: user.token });
    assert.equal(pending.status, 200);
    assert.equal(pending.body.length, 1);
    assert.equal(pending.body[0].request_id, required.data.action_id);
    assert.equal(pending.body[0].operation, 'file_delete');
    assert.deepEqual(pending.body[0].context.args, { path: 'notes.txt' });

    // 3. Approve → the delete runs, the run finishes, the file and its artifact are gone.
    const answer = await server.api('POST', `/api/v1/hitl/${required.data.action_id}/confirm`, { token: user.token, body: { approved: true } });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.approved, true);
    await remove.waitForEnd();
    const deleteResult = named(remove.events, 'tool_result')[0]!;
    assert.equal(deleteResult.data.tool, 'file_delete');
    assert.equal(deleteResult.data.success, true);
    assert.equal(deleteResult.data.result, 'Deleted notes.txt.');
    const deleteDone = remove.events.at(-1)!;
    assert.equal(deleteDone.event, 'done');
    assert.match(deleteDone.data.content, /Deleted notes\.txt\./);
    assert.ok(!existsSync(join(workspaceDir(sessionId), 'notes.txt')));
    const artifacts = await server.api('GET', `/api/v1/sessions/${sessionId}/artifacts`, { token: user.token });
    assert.equal(artifacts.body.total, 0);
    const answered = await server.api('GET', `/api/v1/sessions/${sessionId}/hitl/pending`, { token: user.token });
    assert.deepEqual(answered.body, []);
    // A second answer to the same request is refused.
    const again = await server.api('POST', `/api/v1/hitl/${required.data.action_id}/confirm`, { token: user.token, body: { approved: false } });
    assert.equal(again.status, 409);
    const session = await server.api('GET', `/api/v1/sessions/${sessionId}`, { token: user.token });
    assert.equal(session.body.status, 'completed');
  });

  test('rejecting the delete keeps the file, and the answer says the user rejected it', async () => {
    const sessionId = await newSession();
    await (await send(sessionId, 'write file keep.txt: keep me')).waitForEnd();
    const remove = await send(sessionId, 'Delete the file "keep.txt"');
    await remove.waitForEvent('confirm_required');
    const required = named(remove.events, 'confirm_required')[0]!;
    assert.deepEqual(required.data.args, { path: 'keep.txt' });
    const answer = await server.api('POST', `/api/v1/hitl/${required.data.action_id}/confirm`, { token: user.token, body: { approved: false, user_feedback: 'not now' } });
    assert.equal(answer.status, 200);
    await remove.waitForEnd();
    const done = remove.events.at(-1)!;
    assert.equal(done.event, 'done');
    assert.match(done.data.content, /rejected by the user/i);
    assert.match(done.data.content, /not now/);
    assert.doesNotMatch(done.data.content, /^Done\b/, 'a rejected action is not reported as done');
    assert.equal(readFileSync(join(workspaceDir(sessionId), 'keep.txt'), 'utf8'), 'keep me');
  });

  test('"search quantum computing" explains that no search backend is configured, and how to add one', async () => {
    const sessionId = await newSession();
    const search = await send(sessionId, 'search quantum computing');
    await search.waitForEnd();
    assert.equal(named(search.events, 'tool_call').length, 0, 'no tool is called');
    const done = search.events.at(-1)!;
    assert.equal(done.event, 'done');
    assert.equal(done.data.iterations, 1);
    assert.equal(done.data.content, contentText(search.events));
    assert.match(done.data.content, /"quantum computing"/);
    assert.match(done.data.content, /no search backend is configured/);
    assert.match(done.data.content, /\[tools\.web_search\]/);
    for (const provider of ['tavily', 'brave', 'searxng']) assert.ok(done.data.content.includes(provider), provider);
  });

  test('escaping the workspace fails as a tool error; the answer does not claim success', async () => {
    const sessionId = await newSession();
    const write = await send(sessionId, 'write file ../../escape.txt: pwned');
    await write.waitForEnd();
    const result = named(write.events, 'tool_result')[0]!;
    assert.equal(result.data.success, false);
    assert.doesNotMatch(result.data.result, new RegExp(server.environment.dir.replaceAll('/', '\\/')), 'no host paths leak');
    const done = write.events.at(-1)!;
    assert.equal(done.event, 'done');
    assert.doesNotMatch(done.data.content, /^Done\b/);
    assert.ok(!existsSync(join(server.environment.dir, 'data', 'escape.txt')));
    assert.ok(!existsSync(join(server.environment.dir, 'escape.txt')));
    assert.deepEqual(readdirSync(workspaceDir(sessionId)), []);
  });

  test('anything else gets a greeting that says what to configure and what to try', async () => {
    const sessionId = await newSession();
    const hello = await send(sessionId, 'hello');
    await hello.waitForEnd();
    const done = hello.events.at(-1)!;
    assert.equal(done.event, 'done');
    assert.match(done.data.content, /offline demo model/);
    assert.match(done.data.content, /SPARK_API_KEY, OPENAI_API_KEY or ANTHROPIC_API_KEY/);
    assert.match(done.data.content, /write file notes\.txt: hello/);
    assert.match(done.data.content, /delete file notes\.txt/);
    assert.match(done.data.content, /search /);
  });
});

describe('offline demo model with a search backend configured', () => {
  let server: Server;
  let user: User;
  let searxng: FakeSite;
  const { newSession, send } = demo(() => server, () => user);

  before(async () => {
    searxng = await startFakeSearxng();
    server = await startTestServer({ toml: `${LIMITS}\n[tools.web_search]\nprovider = "searxng"\nurl = "${searxng.origin}"\nmax_results = 3`, env: {} });
    user = await registerUser(server.api);
  });
  after(async () => {
    await server.shutdown();
    await searxng.close();
  });

  test('"search quantum computing" calls web_search and reports its results', async () => {
    const sessionId = await newSession();
    const search = await send(sessionId, 'search for quantum computing');
    await search.waitForEnd();
    const call = named(search.events, 'tool_call')[0]!;
    assert.equal(call.data.tool, 'web_search');
    assert.deepEqual(call.data.args, { query: 'quantum computing' });
    const result = named(search.events, 'tool_result')[0]!;
    assert.equal(result.data.success, true);
    assert.match(result.data.result, /SearXNG result 1 for quantum computing/);
    assert.equal(searxng.requests.length, 1);
    assert.equal(searxng.requests[0]!.url.searchParams.get('q'), 'quantum computing');
    const done = search.events.at(-1)!;
    assert.equal(done.event, 'done');
    assert.match(done.data.content, /SearXNG result 1 for quantum computing/);
    assert.doesNotMatch(done.data.content, /no search backend/);
  });
});
