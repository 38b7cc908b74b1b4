import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { PreparedQueries } from '../src/store/prepared.js';
import { registerUser, startTestServer } from './support/server.js';

describe('workspaces and sessions API', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let alice: Awaited<ReturnType<typeof registerUser>>;
  let bob: Awaited<ReturnType<typeof registerUser>>;

  before(async () => {
    server = await startTestServer({ toml: '[limits]\nrequests_per_minute = 10000' });
    alice = await registerUser(server.api);
    bob = await registerUser(server.api);
  });
  after(() => server.shutdown());

  const createSession = async (body: Record<string, unknown> = {}, token = alice.token) =>
    server.api('POST', '/api/v1/sessions', { token, body: { workspace_id: alice.workspaceId, ...body } });

  test('workspaces: create, list, get; membership enforced', async () => {
    const created = await server.api('POST', '/api/v1/workspaces', { token: alice.token, body: { name: 'Research' } });
    assert.equal(created.status, 201);
    assert.equal(created.body.name, 'Research');
    assert.equal(created.body.role, 'owner');
    const list = await server.api('GET', '/api/v1/workspaces', { token: alice.token });
    assert.equal(list.body.total, 2);
    assert.deepEqual(list.body.items.map((w: { id: string }) => w.id).sort(), [alice.workspaceId, created.body.id].sort());
    const one = await server.api('GET', `/api/v1/workspaces/${created.body.id}`, { token: alice.token });
    assert.equal(one.status, 200);
    assert.equal(one.body.id, created.body.id);
    const foreign = await server.api('GET', `/api/v1/workspaces/${created.body.id}`, { token: bob.token });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error_code, 'FORBIDDEN');
    const unknown = await server.api('GET', '/api/v1/workspaces/00000000-0000-4000-8000-000000000000', { token: alice.token });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error_code, 'NOT_FOUND');
    const empty = await server.api('POST', '/api/v1/workspaces', { token: alice.token, body: { name: '' } });
    assert.equal(empty.status, 400);
  });

  test('create a session: defaults, explicit fields, workspace directory', async () => {
    const defaults = await createSession();
    assert.equal(defaults.status, 201);
    assert.equal(defaults.body.title, 'New session');
    assert.equal(defaults.body.task_type, 'general');
    assert.equal(defaults.body.status, 'created');
    assert.equal(defaults.body.workspace_id, alice.workspaceId);
    assert.match(defaults.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(existsSync(join(server.environment.dir, 'data', 'workspaces', defaults.body.id)));

    const research = await createSession({ title: 'Market study', task_type: 'deep-research', unknown_field: 1 });
    assert.equal(research.status, 201);
    assert.equal(research.body.title, 'Market study');
    assert.equal(research.body.task_type, 'deep-research');
    assert.equal(research.body.unknown_field, undefined);
  });

  test('create a session: every kind of bad input is a 400 with the error body', async () => {
    const cases: Array<[string, unknown]> = [
      ['missing workspace_id', { title: 'x' }],
      ['201-character title', { workspace_id: alice.workspaceId, title: 'x'.repeat(201) }],
      ['unknown task_type', { workspace_id: alice.workspaceId, task_type: 'astrology' }],
      ['title of the wrong type', { workspace_id: alice.workspaceId, title: 42 }],
      ['workspace_id of the wrong type', { workspace_id: 7 }],
      ['array body', [1, 2]],
    ];
    for (const [name, body] of cases) {
      const response = await server.api('POST', '/api/v1/sessions', { token: alice.token, body });
      assert.equal(response.status, 400, name);
      assert.equal(response.body.error_code, 'VALIDATION_ERROR', name);
      assert.equal(typeof response.body.detail, 'string', name);
      assert.match(response.body.timestamp, /Z$/, name);
    }
    const exactly200 = await createSession({ title: 'y'.repeat(200) });
    assert.equal(exactly200.status, 201);

    const malformed = await server.api('POST', '/api/v1/sessions', { token: alice.token, raw: '{"workspace_id": ', headers: { 'content-type': 'application/json' } });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error_code, 'VALIDATION_ERROR');
    assert.equal(malformed.body.detail, 'Malformed JSON body');

    const foreignWorkspace = await createSession({}, bob.token);
    assert.equal(foreignWorkspace.status, 403);
    const unknownWorkspace = await server.api('POST', '/api/v1/sessions', { token: alice.token, body: { workspace_id: 'nope' } });
    assert.equal(unknownWorkspace.status, 404);
    const noToken = await server.api('POST', '/api/v1/sessions', { body: { workspace_id: alice.workspaceId } });
    assert.equal(noToken.status, 401);
    assert.equal(noToken.body.error_code, 'UNAUTHORIZED');
  });

  test('list sessions: newest first, pagination, status filter, total, bad queries', async () => {
    const workspace = await server.api('POST', '/api/v1/workspaces', { token: alice.token, body: { name: 'Paging' } });
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) {
      const session = await server.api('POST', '/api/v1/sessions', { token: alice.token, body: { workspace_id: workspace.body.id, title: `s${index}` } });
      ids.push(session.body.id);
    }
    await server.api('PATCH', `/api/v1/sessions/${ids[1]}`, { token: alice.token, body: { status: 'completed' } });

    const page = await server.api('GET', `/api/v1/sessions?workspace_id=${workspace.body.id}&limit=2&offset=1`, { token: alice.token });
    assert.equal(page.status, 200);
    assert.equal(page.body.total, 5);
    assert.equal(page.body.limit, 2);
    assert.equal(page.body.offset, 1);
    assert.deepEqual(page.body.items.map((s: { title: string }) => s.title), ['s3', 's2']);

    const defaults = await server.api('GET', `/api/v1/sessions?workspace_id=${workspace.body.id}`, { token: alice.token });
    assert.equal(defaults.body.limit, 20);
    assert.equal(defaults.body.offset, 0);
    assert.equal(defaults.body.items.length, 5);

    const completed = await server.api('GET', `/api/v1/sessions?workspace_id=${workspace.body.id}&status=completed`, { token: alice.token });
    assert.equal(completed.body.total, 1);
    assert.equal(completed.body.items[0].id, ids[1]);

    for (const query of ['', 'limit=0', 'limit=101', 'offset=-1', 'status=sleeping', 'limit=abc']) {
      const path = query === '' ? '/api/v1/sessions' : `/api/v1/sessions?workspace_id=${workspace.body.id}&${query}`;
      const response = await server.api('GET', path, { token: alice.token });
      assert.equal(response.status, 400, query || 'missing workspace_id');
      assert.equal(response.body.error_code, 'VALIDATION_ERROR', query);
    }
    const foreign = await server.api('GET', `/api/v1/sessions?workspace_id=${workspace.body.id}`, { token: bob.token });
    assert.equal(foreign.status, 403);
  });

  test('get, details, patch, complete', async () => {
    const session = (await createSession({ title: 'Original' })).body;
    const plain = await server.api('GET', `/api/v1/sessions/${session.id}`, { token: alice.token });
    assert.equal(plain.status, 200);
    assert.equal(plain.body.id, session.id);
    assert.equal(plain.body.message_count, undefined);

    const details = await server.api('GET', `/api/v1/sessions/${session.id}?include_details=true`, { token: alice.token });
    assert.equal(details.body.message_count, 0);
    assert.deepEqual(details.body.usage, { input_tokens: 0, output_tokens: 0 });
    assert.equal(details.body.current_run, null);
    assert.equal(details.body.pending_approvals, 0);
    assert.equal((await server.api('GET', `/api/v1/sessions/${session.id}?include_details=maybe`, { token: alice.token })).status, 400);

    const renamed = await server.api('PATCH', `/api/v1/sessions/${session.id}`, { token: alice.token, body: { title: 'Renamed' } });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.title, 'Renamed');
    assert.ok(renamed.body.updated_at >= session.updated_at);
    const running = await server.api('PATCH', `/api/v1/sessions/${session.id}`, { token: alice.token, body: { status: 'running' } });
    assert.equal(running.status, 400);
    assert.equal(running.body.error_code, 'VALIDATION_ERROR');
    const badStatus = await server.api('PATCH', `/api/v1/sessions/${session.id}`, { token: alice.token, body: { status: 'done' } });
    assert.equal(badStatus.status, 400);
    const longTitle = await server.api('PATCH', `/api/v1/sessions/${session.id}`, { token: alice.token, body: { title: 'z'.repeat(201) } });
    assert.equal(longTitle.status, 400);

    const completed = await server.api('POST', `/api/v1/sessions/${session.id}/complete`, { token: alice.token });
    assert.equal(completed.status, 200);
    assert.equal(completed.body.status, 'completed');
    const reread = await server.api('GET', `/api/v1/sessions/${session.id}`, { token: alice.token });
    assert.equal(reread.body.status, 'completed');
    assert.equal(reread.body.title, 'Renamed');
  });

  test('messages and artifacts are empty lists for a new session', async () => {
    const session = (await createSession()).body;
    const messages = await server.api('GET', `/api/v1/sessions/${session.id}/messages`, { token: alice.token });
    assert.equal(messages.status, 200);
    assert.deepEqual(messages.body, { items: [], total: 0 });
    const artifacts = await server.api('GET', `/api/v1/sessions/${session.id}/artifacts`, { token: alice.token });
    assert.deepEqual(artifacts.body, { items: [], total: 0 });
    assert.equal((await server.api('GET', `/api/v1/sessions/${session.id}/messages?limit=0`, { token: alice.token })).status, 400);
  });

  test("another user's session is 403 on every endpoint; unknown ids are 404", async () => {
    const session = (await createSession()).body;
    const unknown = '00000000-0000-4000-8000-000000000000';
    const endpoints: Array<[string, string, unknown?]> = [
      ['GET', `/api/v1/sessions/${session.id}`],
      ['PATCH', `/api/v1/sessions/${session.id}`, { title: 'mine now' }],
      ['DELETE', `/api/v1/sessions/${session.id}`],
      ['POST', `/api/v1/sessions/${session.id}/complete`],
      ['GET', `/api/v1/sessions/${session.id}/messages`],
      ['GET', `/api/v1/sessions/${session.id}/artifacts`],
    ];
    for (const [method, path, body] of endpoints) {
      const foreign = await server.api(method, path, { token: bob.token, body });
      assert.equal(foreign.status, 403, `${method} ${path}`);
      assert.equal(foreign.body.error_code, 'FORBIDDEN');
      const missing = await server.api(method, path.replace(session.id, unknown), { token: alice.token, body });
      assert.equal(missing.status, 404, `${method} ${path} unknown`);
      assert.equal(missing.body.error_code, 'NOT_FOUND');
      const anonymous = await server.api(method, path, { body });
      assert.equal(anonymous.status, 401, `${method} ${path} anonymous`);
    }
    // Bob's attempts changed nothing.
    const still = await server.api('GET', `/api/v1/sessions/${session.id}`, { token: alice.token });
    assert.equal(still.body.title, 'New session');
  });

  test('a run that ends adds its usage and leaves the session running while another run is queued, else its outcome', async () => {
    const session = (await createSession()).body;
    const { store } = server.inProcess!.context;
    const now = new Date().toISOString();
    const statusAndUsage = async () => {
      const row = (await store.sessions.findById(session.id))!;
      return [row.status, Number(row.input_tokens), Number(row.output_tokens)];
    };
    await store.sessions.settleAfterRun(session.id, { inputTokens: 5, outputTokens: 2 }, 'error', now);
    assert.deepEqual(await statusAndUsage(), ['error', 5, 2]);
    await store.runs.create({
      id: 'queued-run', session_id: session.id, user_id: alice.userId, kind: 'execute', state: 'queued', prompt: 'later', input: null, answer: null, error: null, error_code: null,
      iterations: 0, input_tokens: 0, output_tokens: 0, checkpoint: null, owner_id: null, lease_expires_at: null, created_at: now, started_at: null, finished_at: null,
    });
    await store.sessions.settleAfterRun(session.id, { inputTokens: 1, outputTokens: 1 }, 'completed', now);
    assert.deepEqual(await statusAndUsage(), ['running', 6, 3]);
  });

  test("a run's phases each in one statement on PostgreSQL: start if allowed and not busy (access + run + status + user message), turn (message + usage), finish once (run + final message + session)", async () => {
    const session = (await createSession()).body;
    const { store } = server.inProcess!.context;
    const now = new Date().toISOString();
    const message = (id: string, role: 'user' | 'assistant', content: string) => ({
      id, session_id: session.id, run_id: 'phase-run', role, content, tool_calls: null, tool_call_id: null, attachments: null, created_at: now,
    });
    const newRun = (id: string, state = 'running', userId = alice.userId, sessionId = session.id) => ({
      id, session_id: sessionId, user_id: userId, kind: 'chat', state, prompt: "it's me", input: null, answer: null, error: null, error_code: null,
      iterations: 0, input_tokens: 0, output_tokens: 0, checkpoint: null, owner_id: null, lease_expires_at: null, created_at: now, started_at: now, finished_at: null,
    });
    type Attempt = Awaited<ReturnType<typeof store.runs.startUnlessBusy>>;
    const conversation = ({ history }: Attempt) => history?.map((m) => [Number(m.position), m.role, m.content]) ?? null;

    // The access check is part of the start: another user's start and a start on an unknown session write nothing.
    const foreign = await store.runs.startUnlessBusy(newRun('phase-foreign', 'running', bob.userId), message('phase-mf', 'user', 'let me in'));
    assert.deepEqual([foreign.access?.session.id, foreign.access?.role, foreign.history], [session.id, null, null], "bob is not a member of alice's workspace");
    const unknown = await store.runs.startUnlessBusy(newRun('phase-unknown', 'running', alice.userId, 'no-such-session'), message('phase-mu', 'user', 'anyone?'));
    assert.deepEqual([unknown.access, unknown.history], [undefined, null]);
    assert.deepEqual([await store.runs.findById('phase-foreign'), await store.runs.findById('phase-unknown'), (await store.sessions.findById(session.id))!.status], [undefined, undefined, 'created']);

    const first = await store.runs.startUnlessBusy(newRun('phase-run'), message('phase-m1', 'user', "it's me"));
    assert.deepEqual(conversation(first), [[1, 'user', "it's me"]], 'the conversation so far comes back');
    assert.deepEqual(
      [first.access?.role, first.access?.session.id, first.access?.session.status, first.access?.session.workspace_tool_policy],
      ['owner', session.id, 'created', null],
      'with the session as it was before the start, and its workspace policy',
    );
    assert.deepEqual(conversation(await store.runs.startUnlessBusy(newRun('phase-run-2'), message('phase-m1b', 'user', 'me again'))), null, 'refused while a run is live');
    assert.equal(await store.runs.findById('phase-run-2'), undefined, 'and nothing of it written');
    const started = (await store.runs.findById('phase-run'))!;
    assert.deepEqual([started.state, started.prompt, started.iterations, Number(started.input_tokens)], ['running', "it's me", 0, 0]);
    await store.runs.saveTurn('phase-run', message('phase-m2', 'assistant', 'first'), { iterations: 1, input_tokens: 10, output_tokens: 4 });
    await store.runs.saveTurn('phase-run', message('phase-m3', 'assistant', 'second'), { iterations: 2, input_tokens: 25, output_tokens: 9 });
    assert.equal((await store.sessions.findById(session.id))!.status, 'running');
    assert.deepEqual((await store.messages.all(session.id)).map((m) => [m.position, m.role, m.content]), [[1, 'user', "it's me"], [2, 'assistant', 'first'], [3, 'assistant', 'second']]);
    const progress = (await store.runs.findById('phase-run'))!;
    assert.deepEqual([progress.iterations, Number(progress.input_tokens), Number(progress.output_tokens)], [2, 25, 9]);

    const settle = { sessionId: session.id, usage: { inputTokens: 25, outputTokens: 9 }, outcome: 'completed' as const, at: now };
    const completion = { iterations: 2, input_tokens: 25, output_tokens: 9, finished_at: now };
    assert.equal(await store.runs.finish('phase-run', completion, settle, message('phase-end', 'assistant', 'second')), 'settled');
    assert.equal(await store.runs.finish('phase-run', completion, settle, message('phase-lost', 'assistant', 'never')), 'lost', 'a second ending loses, its message unsaved');
    const run = (await store.runs.findById('phase-run'))!;
    assert.deepEqual([run.state, run.answer, await store.messages.finalAnswer(session.id, 'phase-run')], ['completed', null, 'second'], 'the answer is stored once, as the final message');
    const settled = (await store.sessions.findById(session.id))!;
    assert.deepEqual([settled.status, Number(settled.input_tokens), Number(settled.output_tokens)], ['completed', 25, 9], 'settled once');
    assert.deepEqual((await store.messages.all(session.id)).map((m) => m.id), ['phase-m1', 'phase-m2', 'phase-m3', 'phase-end'], 'neither the lost ending nor the refused start added a message');

    // A run that ends while another waits queued says so: the run manager starts that one next.
    assert.deepEqual(
      conversation(await store.runs.startUnlessBusy(newRun('phase-run-3'), message('phase-m4', 'user', 'third'))),
      [[1, 'user', "it's me"], [2, 'assistant', 'first'], [3, 'assistant', 'second'], [4, 'assistant', 'second'], [5, 'user', 'third']],
    );
    assert.deepEqual(
      (await store.messages.all(session.id)).map((m) => [Number(m.position), m.id]),
      [[1, 'phase-m1'], [2, 'phase-m2'], [3, 'phase-m3'], [4, 'phase-end'], [5, 'phase-m4']],
      'as stored',
    );
    await store.runs.create(newRun('phase-queued', 'queued'));
    assert.equal(conversation(await store.runs.startUnlessBusy(newRun('phase-run-4'), message('phase-m5', 'user', 'fourth'))), null, 'refused while a run is queued');
    assert.equal(await store.runs.finish('phase-run-3', completion, settle, message('phase-m4a', 'assistant', 'the answer')), 'queued');
    assert.deepEqual((await store.messages.all(session.id)).slice(-2).map((m) => [Number(m.position), m.id, m.content]), [[5, 'phase-m4', 'third'], [6, 'phase-m4a', 'the answer']], 'the final answer saved with the end');
    assert.equal((await store.sessions.findById(session.id))!.status, 'running');
    assert.equal(conversation(await store.runs.startUnlessBusy(newRun('phase-run-5'), message('phase-m6', 'user', 'fifth'))), null, 'still refused: the queued run goes first');
  });

  test('runs starting and finishing at the same moment: each gets its own answer, and on PostgreSQL they share a few statements', async () => {
    const { store } = server.inProcess!.context;
    const sessions = await Promise.all(Array.from({ length: 14 }, async () => (await createSession()).body.id as string));
    const now = new Date().toISOString();
    const newRun = (id: string, sessionId: string, userId = alice.userId) => ({
      id, session_id: sessionId, user_id: userId, kind: 'chat', state: 'running', prompt: `prompt of ${id}`, input: null, answer: null, error: null, error_code: null,
      iterations: 0, input_tokens: 0, output_tokens: 0, checkpoint: null, owner_id: null, lease_expires_at: null, created_at: now, started_at: now, finished_at: null,
    });
    const message = (id: string, sessionId: string, runId: string, role: 'user' | 'assistant', content: string) => ({
      id, session_id: sessionId, run_id: runId, role, content, tool_calls: null, tool_call_id: null, attachments: null, created_at: now,
    });
    const start = (runId: string, sessionId: string, userId = alice.userId) =>
      store.runs.startUnlessBusy(newRun(runId, sessionId, userId), message(`${runId}-m`, sessionId, runId, 'user', `hello from ${runId}`));
    // Counts the statements the pool sends (pg prepares and binds each as one query).
    const statements: string[] = [];
    const original = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const config = args[0] as string | { text?: string };
      const text = typeof config === 'string' ? config : config?.text;
      if (text?.includes('with input as')) statements.push(text.includes('member_role') ? 'start' : 'finish');
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    try {
      await store.runs.create(newRun('wave-taken', sessions[11]!));
      const attempts = await Promise.allSettled([
        ...sessions.slice(0, 10).map((sessionId, index) => start(`wave-${index}`, sessionId)),
        start('wave-twin', sessions[3]!),
        start('wave-foreign', sessions[10]!, bob.userId),
        start('wave-unknown', 'no-such-session'),
      ]);
      const outcome = (index: number) => {
        const attempt = attempts[index]!;
        if (attempt.status === 'rejected') return 'error';
        const { access, history } = attempt.value;
        return [access?.role ?? null, history?.map((m) => [Number(m.position), m.id]) ?? null];
      };
      for (let index = 0; index < 10; index++) assert.deepEqual(outcome(index), ['owner', [[1, `wave-${index}-m`]]], `start ${index}`);
      assert.deepEqual(outcome(10), ['owner', null], 'the second start of a session finds it busy');
      assert.deepEqual(outcome(11), [null, null], 'not a member');
      assert.deepEqual(outcome(12), [null, null], 'no such session');
      const wave = statements.splice(0);

      // A batch that fails is retried a start at a time: the start whose run id is taken fails alone.
      const [lone, neighbour, taken] = await Promise.allSettled([start('wave-10', sessions[12]!), start('wave-11', sessions[13]!), start('wave-taken', sessions[10]!)]);
      assert.deepEqual([lone.status, neighbour.status, taken.status], ['fulfilled', 'fulfilled', 'rejected']);
      assert.equal(neighbour.status === 'fulfilled' && neighbour.value.history?.length, 1);
      assert.deepEqual(
        await Promise.all(['wave-twin', 'wave-foreign', 'wave-unknown'].map((id) => store.runs.findById(id))),
        [undefined, undefined, undefined],
        'nothing written for the refused starts',
      );
      assert.deepEqual([(await store.sessions.findById(sessions[10]!))!.status, (await store.messages.all(sessions[10]!)).length], ['created', 0]);

      const settle = (sessionId: string) => ({ sessionId, usage: { inputTokens: 3, outputTokens: 2 }, outcome: 'completed' as const, at: now });
      const completion = { iterations: 1, input_tokens: 3, output_tokens: 2, finished_at: now };
      const finish = (index: number) =>
        store.runs.finish(`wave-${index}`, completion, settle(sessions[index]!), message(`wave-${index}-a`, sessions[index]!, `wave-${index}`, 'assistant', `answer ${index}`));
      await finish(9);
      const endings = await Promise.all([...Array.from({ length: 9 }, (_, index) => finish(index)), finish(9)]);
      assert.deepEqual(endings, [...Array(9).fill('settled'), 'lost']);
      for (let index = 0; index < 10; index++) {
        const [run, session, messages] = await Promise.all([store.runs.findById(`wave-${index}`), store.sessions.findById(sessions[index]!), store.messages.all(sessions[index]!)]);
        assert.deepEqual(
          [run!.state, await store.messages.finalAnswer(sessions[index]!, `wave-${index}`), session!.status, Number(session!.input_tokens), messages.map((m) => [Number(m.position), m.id])],
          ['completed', `answer ${index}`, 'completed', 3, [[1, `wave-${index}-m`], [2, `wave-${index}-a`]]],
          `run ${index} finished once`,
        );
      }
      if (store.handle.dialect === 'postgres') {
        assert.deepEqual(wave, ['start', 'start', 'start'], 'thirteen starts: the first alone, eleven together, then the twin');
        assert.deepEqual(statements, ['start', 'start', 'start', 'start', 'finish', 'finish', 'finish'], 'the failed batch retried alone; the finishes: one alone, then the first of the wave, then nine together');
      }
    } finally {
      pg.Client.prototype.query = original;
    }
  });

  test("a session this process creates starts its event counter at 0 without reading it (PostgreSQL: no round trip before the first run's first event)", async () => {
    const session = (await createSession()).body;
    const eventStore = (server.inProcess!.context.streams.log as unknown as { store: { allocate(id: string): { seq: number } | null | undefined } }).store;
    assert.equal(eventStore.allocate(session.id)?.seq, 1, 'known at once, no load');
    await server.inProcess!.context.streams.log.append(session.id, null, 'status', { state: 'after the first cursor' });
    assert.deepEqual((await server.inProcess!.context.streams.log.listAfter(session.id, 0)).map((event) => event.seq), [2]);
  });

  test('prepared queries: compiled once per shape, each call with its own values, a value left undefined makes a new shape', async () => {
    const { store } = server.inProcess!.context;
    const prepared = new PreparedQueries(store.handle.db);
    let builds = 0;
    const update = (id: string, changes: { title?: string; status?: string }) =>
      prepared.changed('test.update', { ...changes, id }, (db, { id: sessionId, ...set }) => {
        builds++;
        return db.updateTable('sessions').set(set).where('id', '=', sessionId);
      });
    const [one, two] = [(await createSession()).body, (await createSession()).body];
    const row = async (id: string) => (await store.sessions.findById(id))!;
    assert.equal(await update(one.id, { title: "it's one", status: 'completed' }), 1);
    assert.equal(await update(two.id, { title: 'two\nlines', status: 'error' }), 1);
    assert.equal(builds, 1, 'the second call reuses the compiled query');
    assert.deepEqual([(await row(one.id)).title, (await row(one.id)).status], ["it's one", 'completed']);
    assert.deepEqual([(await row(two.id)).title, (await row(two.id)).status], ['two\nlines', 'error']);
    assert.equal(await update(one.id, { title: 'renamed', status: undefined }), 1);
    assert.equal(builds, 2, 'a value left out is another statement');
    assert.deepEqual([(await row(one.id)).title, (await row(one.id)).status], ['renamed', 'completed'], 'the status was not touched');
    assert.equal(await update('no-such-session', { title: 'x', status: 'error' }), 0);
    assert.equal(builds, 2);
    await assert.rejects(
      prepared.rows('test.list', { ids: ['a', 'b'] }, (db, v) => db.selectFrom('sessions').selectAll().where('id', 'in', v.ids)),
      /value "ids" is not a scalar/,
      'a list has no single place among the parameters',
    );
  });

  test('delete removes the session, its directory and its events (204), then 404', async () => {
    const session = (await createSession()).body;
    const directory = join(server.environment.dir, 'data', 'workspaces', session.id);
    assert.ok(existsSync(directory));
    const { store } = server.inProcess!.context;
    const log = server.inProcess!.context.streams.log;
    await log.append(session.id, null, 'status', { state: 'before delete' });
    const eventsOf = async () => (await store.handle.db.selectFrom('events').select('id').where('session_id', '=', session.id).execute()).length;
    assert.equal(await eventsOf(), 1);
    const deleted = await server.api('DELETE', `/api/v1/sessions/${session.id}`, { token: alice.token });
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, '');
    assert.ok(!existsSync(directory));
    assert.equal(await eventsOf(), 0, 'the events go with the session (a foreign key on SQLite, a trigger on PostgreSQL)');
    assert.equal((await server.api('GET', `/api/v1/sessions/${session.id}`, { token: alice.token })).status, 404);
    assert.equal((await server.api('DELETE', `/api/v1/sessions/${session.id}`, { token: alice.token })).status, 404);
  });
});
