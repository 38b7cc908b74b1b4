import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { WorkingMemory } from '../src/memory/working-memory.js';
import { changeApproachReminder, RunReminders, SAVE_FINDINGS_REMINDER } from '../src/agent/reminders.js';
import { startFakeModelServer } from './support/fake-model-server.js';
import type { FakeTurn } from './support/fake-openai.js';
import { registerUser } from './support/server.js';
import { SseClient } from './support/sse.js';

type Fixture = Awaited<ReturnType<typeof startFakeModelServer>>;
type WireMessage = { role: string; content: unknown };

const LIMITS = '[limits]\nrequests_per_minute = 100000\nsse_concurrent = 10\n[agent]\nmax_iterations = 10';
const METADATA_KEYS = ['created_at', 'session_id', 'status', 'title', 'updated_at', 'version'];
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Front matter and body of a file on disk, parsed independently of the server's parser. */
function readMemoryFile(path: string): { metadata: Record<string, unknown>; body: string } {
  const text = readFileSync(path, 'utf8');
  const match = /^---\n([\s\S]*?)\n---\n/.exec(text);
  assert.ok(match, `front matter in ${path}: ${text.slice(0, 200)}`);
  return { metadata: parse(match[1]!) as Record<string, unknown>, body: text.slice(match[0].length).replace(/^\n/, '') };
}

const systemTexts = (messages: WireMessage[]): string[] =>
  messages.filter((message) => message.role === 'system').map((message) => String(message.content));

describe('working memory through the agent', () => {
  let fixture: Fixture;
  let server: Fixture['server'];
  let user: Fixture['user'];
  before(async () => {
    fixture = await startFakeModelServer(LIMITS);
    ({ server, user } = fixture);
  });
  after(() => fixture.shutdown());

  const workspace = (sessionId: string) => join(server.environment.dir, 'data', 'workspaces', sessionId);
  const memoryUrl = (sessionId: string) => `/api/v1/chat/${sessionId}/working-memory`;

  /** Runs one chat message against scripted turns; returns the SSE events and the model requests it made. */
  async function run(sessionId: string, turns: FakeTurn[], content = 'go') {
    const first = fixture.fake.requests.length;
    fixture.fake.enqueue(...turns);
    const stream = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token: user.token, method: 'POST', body: { content } });
    assert.equal(stream.status, 200);
    await stream.waitForEnd();
    const requests = fixture.fake.requests.slice(first).map((request) => (request.body as { messages: WireMessage[] }).messages);
    return { events: stream.events, requests };
  }

  test('plan_update, findings_add and progress_log write versioned files, emit working_memory events and feed the plan back', async () => {
    const sessionId = await fixture.newSession();
    const { events, requests } = await run(sessionId, [
      { toolCalls: [{ name: 'plan_update', arguments: { content: '# Plan\n- [ ] search\n- [ ] write report', status: 'planning' } }] },
      {
        toolCalls: [
          { name: 'findings_add', arguments: { content: 'Node 20 ships fetch.', source: 'https://nodejs.org/en/blog/release/v20.0.0' } },
          { name: 'progress_log', arguments: { content: 'Searched the release notes.' } },
        ],
      },
      {
        toolCalls: [
          { name: 'plan_update', arguments: { content: '# Plan\n- [x] search\n- [ ] write report' } },
          { name: 'findings_add', arguments: { content: 'Two sources agree.', source: ['https://a.example/x', 'https://b.example/y?q=1'] } },
        ],
      },
      { toolCalls: [{ name: 'plan_update', arguments: { content: '# Plan\n- [x] search\n- [x] write report', status: 'completed' } }] },
      { text: 'All done.' },
    ]);

    assert.equal(events.at(-1)!.event, 'done');
    assert.ok(events.filter((event) => event.event === 'tool_result').every((event) => event.data.success), JSON.stringify(events.filter((event) => event.event === 'tool_result').map((event) => event.data.result)));

    // Events: one per change, in order, with the file and its new version.
    const changes = events.filter((event) => event.event === 'working_memory').map((event) => event.data);
    assert.deepEqual(
      changes.map((change) => [change.file, change.version]),
      [['task_plan.md', 1], ['findings.md', 1], ['progress.md', 1], ['task_plan.md', 2], ['findings.md', 2], ['task_plan.md', 3]],
    );
    const runId = events.find((event) => event.event === 'done')!.data.run_id;
    assert.ok(changes.every((change) => change.run_id === runId && ISO.test(change.updated_at)));
    assert.deepEqual(changes.filter((change) => change.file === 'task_plan.md').map((change) => change.status), ['planning', 'planning', 'completed']);

    // The session stream is the same projection of the log.
    const replay = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream?last_event_id=0`, { token: user.token });
    await replay.waitForEvent('done');
    replay.close();
    assert.deepEqual(
      replay.events.filter((event) => event.event === 'working_memory').map((event) => [event.id, event.data.file, event.data.version]),
      events.filter((event) => event.event === 'working_memory').map((event) => [event.id, event.data.file, event.data.version]),
    );

    // Files on disk with valid front matter; created_at stays, updated_at moves, version counts changes.
    const plan = readMemoryFile(join(workspace(sessionId), 'task_plan.md'));
    assert.deepEqual(Object.keys(plan.metadata).sort(), METADATA_KEYS);
    assert.equal(plan.metadata.session_id, sessionId);
    assert.equal(plan.metadata.version, 3);
    assert.equal(plan.metadata.status, 'completed');
    assert.equal(plan.metadata.title, 'Task plan');
    assert.match(String(plan.metadata.created_at), ISO);
    assert.ok(String(plan.metadata.updated_at) > String(plan.metadata.created_at));
    assert.equal(plan.body, '# Plan\n- [x] search\n- [x] write report\n');

    const findings = readMemoryFile(join(workspace(sessionId), 'findings.md'));
    assert.equal(findings.metadata.version, 2);
    assert.equal(findings.metadata.created_at, changes[1].updated_at);
    const headings = findings.body.match(/^## (\S+)$/gm) ?? [];
    assert.equal(headings.length, 2);
    assert.ok(headings.every((heading) => ISO.test(heading.slice(3))));
    assert.match(findings.body, /Node 20 ships fetch\.\n\nSources:\n- https:\/\/nodejs\.org\/en\/blog\/release\/v20\.0\.0\n/);
    assert.match(findings.body, /Two sources agree\.\n\nSources:\n- https:\/\/a\.example\/x\n- https:\/\/b\.example\/y\?q=1\n/);
    assert.ok(findings.body.indexOf('Node 20') < findings.body.indexOf('Two sources'), 'appended in order');

    const progress = readMemoryFile(join(workspace(sessionId), 'progress.md'));
    assert.equal(progress.metadata.version, 1);
    assert.match(progress.body, /^## \S+\n\nSearched the release notes\.\n$/);
    // Atomic writes leave no temp files behind.
    assert.deepEqual((await readdir(workspace(sessionId))).sort(), ['findings.md', 'progress.md', 'task_plan.md']);

    // The plan is re-read into every request after it exists, at its current version, right after the profile prompt.
    assert.equal(requests.length, 5);
    assert.ok(!systemTexts(requests[0]!).some((text) => text.startsWith('Current plan')), 'no plan before there is one');
    const planMessage = (messages: WireMessage[]) => systemTexts(messages).find((text) => text.startsWith('Current plan'));
    assert.equal(planMessage(requests[1]!), 'Current plan (task_plan.md, version 1, status planning):\n\n# Plan\n- [ ] search\n- [ ] write report');
    assert.equal(requests[1]![1]!.role, 'system');
    assert.match(planMessage(requests[2]!)!, /version 1, status planning/);
    assert.match(planMessage(requests[3]!)!, /version 2, status planning\):\n\n# Plan\n- \[x\] search\n- \[ \] write report$/);
    assert.match(planMessage(requests[4]!)!, /version 3, status completed/);
    assert.equal(requests.every((messages) => systemTexts(messages).filter((text) => text.startsWith('Current plan')).length <= 1), true);

    // The GET endpoint returns bodies and metadata matching the files.
    const memory = await server.api('GET', memoryUrl(sessionId), { token: user.token });
    assert.equal(memory.status, 200);
    assert.deepEqual(Object.keys(memory.body).sort(), ['findings', 'progress', 'session_id', 'task_plan']);
    assert.equal(memory.body.session_id, sessionId);
    assert.deepEqual(memory.body.task_plan, { content: plan.body, metadata: plan.metadata });
    assert.deepEqual(memory.body.findings, { content: findings.body, metadata: findings.metadata });
    assert.deepEqual(memory.body.progress, { content: progress.body, metadata: progress.metadata });

    // Memory, not deliverables: no artifact events, none in done, none listed.
    assert.ok(!events.some((event) => event.event === 'artifact'));
    assert.deepEqual(events.at(-1)!.data.artifacts, []);
    const artifacts = await server.api('GET', `/api/v1/sessions/${sessionId}/artifacts`, { token: user.token });
    assert.equal(artifacts.body.total, 0);
  });

  test('GET /working-memory: empty files before any change; 401 without token, 403 for another user, 404 for an unknown session', async () => {
    const sessionId = await fixture.newSession();
    const empty = await server.api('GET', memoryUrl(sessionId), { token: user.token });
    assert.equal(empty.status, 200);
    const none = { content: '', metadata: null };
    assert.deepEqual(empty.body, { session_id: sessionId, task_plan: none, findings: none, progress: none });

    const anonymous = await server.api('GET', memoryUrl(sessionId));
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error_code, 'UNAUTHORIZED');
    const badToken = await server.api('GET', memoryUrl(sessionId), { token: 'not-a-token' });
    assert.equal(badToken.status, 401);
    const other = await registerUser(server.api);
    const foreign = await server.api('GET', memoryUrl(sessionId), { token: other.token });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error_code, 'FORBIDDEN');
    const unknown = await server.api('GET', memoryUrl('6f1c2a8e-3b0d-4c57-9a53-1f7f2f0f8b11'), { token: user.token });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error_code, 'NOT_FOUND');
    const traversal = await server.api('GET', memoryUrl('..%2F..%2Fetc'), { token: user.token });
    assert.equal(traversal.status, 404);

    const openapi = await server.api('GET', '/openapi.json');
    assert.equal(openapi.status, 200);
    const operation = openapi.body.paths['/api/v1/chat/{id}/working-memory']?.get;
    assert.ok(operation, 'documented in OpenAPI');
    for (const status of ['200', '401', '403', '404']) assert.ok(status in operation.responses, `documents ${status}`);
    assert.match(JSON.stringify(operation.responses['200']), /WorkingMemory/);
    assert.ok(openapi.body.components.schemas.WorkingMemoryMetadata);
  });

  test('nasty inputs are tool errors the model sees; nothing is written for them', async () => {
    const sessionId = await fixture.newSession();
    const { events } = await run(sessionId, [
      {
        toolCalls: [
          { name: 'plan_update', arguments: { content: '   \n ' } },
          { name: 'plan_update', arguments: { content: 'x'.repeat(20_001) } },
          { name: 'plan_update', arguments: { content: 'ok', status: 'hacked' } },
          { name: 'findings_add', arguments: { content: 'f', source: 'javascript:alert(1)' } },
          { name: 'findings_add', arguments: { content: 'f', source: 'https://a.example/\n---\nversion: 99' } },
          { name: 'findings_add', arguments: { content: 'f', source: [] } },
          { name: 'progress_log', arguments: '{"content": ' },
        ],
      },
      { text: 'understood' },
    ]);
    const results = events.filter((event) => event.event === 'tool_result').map((event) => event.data);
    assert.equal(results.length, 7);
    assert.ok(results.every((result) => result.success === false), JSON.stringify(results));
    assert.ok(!events.some((event) => event.event === 'working_memory'));
    assert.deepEqual(await readdir(workspace(sessionId)), []);
  });

  test('a body that looks like front matter stays body; a file without front matter starts at version 1 and is never an artifact', async () => {
    const sessionId = await fixture.newSession();
    const tricky = '---\nversion: 99\nsession_id: someone-else\n---\nreal plan';
    const { events } = await run(sessionId, [
      { toolCalls: [{ name: 'file_write', arguments: { path: 'progress.md', content: 'hand-written notes' } }] },
      { toolCalls: [{ name: 'plan_update', arguments: { content: tricky } }, { name: 'progress_log', arguments: { content: 'appended' } }] },
      { text: 'done' },
    ]);
    assert.equal(events.at(-1)!.event, 'done');
    assert.deepEqual(events.at(-1)!.data.artifacts, [], 'file_write to a memory file is not an artifact either');
    const memory = (await server.api('GET', memoryUrl(sessionId), { token: user.token })).body;
    assert.equal(memory.task_plan.content, `${tricky}\n`);
    assert.equal(memory.task_plan.metadata.version, 1);
    assert.equal(memory.task_plan.metadata.session_id, sessionId);
    assert.equal(memory.progress.metadata.version, 1);
    assert.match(memory.progress.content, /^hand-written notes\n\n## \S+\n\nappended\n$/);
  });

  test('memory files that are symlinks are never followed: not served, not fed to the model, not written through', async () => {
    const sessionId = await fixture.newSession();
    const outside = mkdtempSync(join(tmpdir(), 'tokendance-secret-'));
    try {
      const secret = join(outside, 'secret.md');
      writeFileSync(secret, '---\ntitle: x\n---\nTOP SECRET\n');
      symlinkSync(secret, join(workspace(sessionId), 'task_plan.md'));
      symlinkSync(secret, join(workspace(sessionId), 'findings.md'));
      const memory = await server.api('GET', memoryUrl(sessionId), { token: user.token });
      assert.equal(memory.status, 200);
      assert.doesNotMatch(memory.text, /TOP SECRET/);

      const { requests } = await run(sessionId, [
        { toolCalls: [{ name: 'findings_add', arguments: { content: 'mine' } }] },
        { text: 'ok' },
      ]);
      assert.ok(requests.every((messages) => !JSON.stringify(messages).includes('TOP SECRET')));
      assert.equal(readFileSync(secret, 'utf8'), '---\ntitle: x\n---\nTOP SECRET\n', 'the link target is untouched');
      const findings = readMemoryFile(join(workspace(sessionId), 'findings.md'));
      assert.equal(findings.metadata.version, 1);
      assert.doesNotMatch(findings.body, /TOP SECRET/);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test('after two web actions the next request reminds the agent to save findings, once', async () => {
    const sessionId = await fixture.newSession();
    const { requests } = await run(sessionId, [
      { toolCalls: [{ name: 'web_fetch', arguments: { url: 'http://127.0.0.1:1/a' } }] },
      { toolCalls: [{ name: 'web_fetch', arguments: { url: 'http://127.0.0.1:1/b' } }] },
      { toolCalls: [{ name: 'findings_add', arguments: { content: 'nothing reachable', source: 'http://127.0.0.1:1/a' } }] },
      { toolCalls: [{ name: 'web_search', arguments: { query: 'x' } }, { name: 'findings_add', arguments: { content: 'noted' } }] },
      { toolCalls: [{ name: 'web_search', arguments: { query: 'y' } }] },
      { text: 'done' },
    ]);
    const reminded = requests.map((messages) => systemTexts(messages).includes(SAVE_FINDINGS_REMINDER));
    // Request 3 follows the second web action; saving findings resets the count, so request 6 (one web action since) has none.
    assert.deepEqual(reminded, [false, false, true, false, false, false]);
    assert.equal(requests[2]!.at(-1)!.content, SAVE_FINDINGS_REMINDER, 'the reminder comes last, after the tool results');
    // Reminders are not stored in the conversation.
    const messages = await server.api('GET', `/api/v1/sessions/${sessionId}/messages?limit=100`, { token: user.token });
    assert.ok(!JSON.stringify(messages.body).includes('Reminder:'));
  });

  test('after three identical failures the agent is told to change approach', async () => {
    const sessionId = await fixture.newSession();
    const { requests, events } = await run(sessionId, [
      { toolCalls: [{ name: 'file_read', arguments: { path: 'missing.txt' } }, { name: 'file_read', arguments: { path: 'other.txt' } }] },
      { toolCalls: [{ name: 'file_read', arguments: '{ "path" :  "missing.txt" }' }, { name: 'file_read', arguments: { path: 'third.txt' } }] },
      { toolCalls: [{ name: 'file_read', arguments: { path: 'missing.txt' } }] },
      { text: 'giving up on that file' },
    ]);
    assert.equal(events.filter((event) => event.event === 'tool_result' && !event.data.success).length, 5);
    const reminder = changeApproachReminder('file_read');
    assert.deepEqual(requests.map((messages) => systemTexts(messages).includes(reminder)), [false, false, false, true]);
    assert.equal(requests[3]!.at(-1)!.content, reminder);
  });
});

describe('working memory files', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tokendance-memory-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('concurrent changes are serialised: no version is lost, every entry is kept', async () => {
    const memory = new WorkingMemory(dir, 'session-1');
    const other = new WorkingMemory(dir, 'session-1');
    const changes = await Promise.all(
      Array.from({ length: 25 }, (_, index) => (index % 2 ? memory : other).append('progress', `entry ${index}`)),
    );
    assert.deepEqual(changes.map((change) => change.version).sort((a, b) => a - b), Array.from({ length: 25 }, (_, index) => index + 1));
    const document = await memory.read('progress');
    assert.equal(document.metadata!.version, 25);
    for (let index = 0; index < 25; index++) assert.match(document.content, new RegExp(`\\nentry ${index}\\n`));
    assert.deepEqual(await readdir(dir), ['progress.md']);
  });

  test('malformed front matter is kept as body with null metadata; the plan context omits an empty plan', async () => {
    const memory = new WorkingMemory(dir, 'session-2');
    writeFileSync(join(dir, 'task_plan.md'), '---\n: [unclosed\n---\n');
    assert.deepEqual(await memory.read('task_plan'), { content: '', metadata: null });
    assert.equal(await memory.planForContext(), null);
    writeFileSync(join(dir, 'task_plan.md'), '---\nversion: "1"\n---\nbody');
    assert.deepEqual(await memory.read('task_plan'), { content: 'body', metadata: null });
    assert.equal(await memory.planForContext(), 'Current plan (task_plan.md):\n\nbody');
    const change = await memory.rewrite('task_plan', 'x'.repeat(30_000));
    assert.equal(change.version, 1);
    const shown = (await memory.planForContext())!;
    assert.ok(shown.length < 21_000 && shown.endsWith('read task_plan.md for the rest]'));
    assert.ok(!existsSync(join(dir, 'findings.md')));
  });

  test('reminders: web actions count per two, a saved finding resets them, failures count per identical call', () => {
    const reminders = new RunReminders();
    reminders.record('web_search', '{"query":"a"}', true);
    assert.deepEqual(reminders.take(), []);
    reminders.record('web_fetch', '{"url":"https://a.example"}', false);
    assert.deepEqual(reminders.take(), [SAVE_FINDINGS_REMINDER]);
    assert.deepEqual(reminders.take(), [], 'given once');
    reminders.record('web_fetch', '{}', true);
    reminders.record('findings_add', '{}', true);
    reminders.record('web_fetch', '{}', true);
    assert.deepEqual(reminders.take(), []);

    reminders.record('shell', '{"command":"make","cwd":"."}', false);
    reminders.record('shell', '{"cwd":".","command":"make"}', false);
    reminders.record('shell', '{"command":"make"}', false);
    assert.deepEqual(reminders.take(), []);
    reminders.record('shell', '{ "command": "make", "cwd": "." }', false);
    assert.deepEqual(reminders.take(), [changeApproachReminder('shell')]);
    reminders.record('shell', 'not json', false);
    reminders.record('shell', 'not json', true);
    reminders.record('shell', 'not json', false);
    reminders.record('shell', 'not json', false);
    assert.deepEqual(reminders.take(), [], 'a success resets the count');
  });
});
