import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_UNWRITTEN_EVENTS } from '../src/events/event-store.js';
import { startFakeOpenAI } from './support/fake-openai.js';
import { fakeProviderToml } from './support/fake-provider-config.js';
import { TEST_DATABASE } from './support/database.js';
import { registerUser, TestEnvironment, type TestServer } from './support/server.js';
import { SseClient, type SseEvent } from './support/sse.js';

const LIMITS = '[limits]\nrequests_per_minute = 100000\nsse_concurrent = 8';
/** Scale-out mode is PostgreSQL plus Redis (SPEC §11). */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The event log's exact crash guarantee (README, "Event pipeline"): with one writing process
 * (SQLite, or PostgreSQL without scale-out) a crash may take back the token deltas published in
 * the last write-behind window, all of them after the last durable event; in scale-out mode
 * (several processes) nothing published is ever lost. Either way no cursor a client saw
 * is handed out again, so a client resuming with its cursor misses nothing stored after it.
 */
type Fake = Awaited<ReturnType<typeof startFakeOpenAI>>;

/** A server process on a data directory that survives it, one user and one session; `restart` kills or stops it and starts another. */
interface Fixture {
  fake: Fake;
  environment: TestEnvironment;
  toml: string;
  server: TestServer;
  token: string;
  sessionId: string;
  restart(how: 'kill' | 'stop'): Promise<void>;
  /** Every frame of the session stream from the first cursor, up to the last run's `done`. */
  wholeLog(): Promise<SseEvent[]>;
}

async function withSession(run: (fixture: Fixture) => Promise<void>, extraToml = ''): Promise<void> {
  const fake = await startFakeOpenAI();
  const environment = await TestEnvironment.create();
  const toml = `${fakeProviderToml(fake.baseUrl)}\n${LIMITS}\n${extraToml}`;
  const server = await environment.spawn({ toml });
  const user = await registerUser(server.api);
  const sessionId = (await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;
  const fixture: Fixture = {
    fake,
    environment,
    toml,
    server,
    token: user.token,
    sessionId,
    restart: async (how) => {
      await (how === 'kill' ? fixture.server.kill() : fixture.server.stop());
      fixture.server = await environment.spawn({ toml });
    },
    wholeLog: async () => {
      const full = await SseClient.open(`${fixture.server.url}/api/v1/sessions/${sessionId}/stream?last_event_id=0`, { token: user.token });
      await full.waitForEvent('done');
      await sleep(50);
      full.close();
      return full.events;
    },
  };
  try {
    await run(fixture);
  } finally {
    await fixture.server.stop();
    await environment.destroy();
    await fake.close();
  }
}

/** Kills the server mid-answer and checks what clients saw against what the next server has stored. */
async function crashMidAnswer(fixture: Fixture, options: { nothingLost: boolean }): Promise<void> {
  const { fake, sessionId, token } = fixture;
  fake.enqueue({ tokens: 3000, tokenText: 'partial ', tokenDelayMs: 2 }, { text: 'answer after the crash' });
  const before = await SseClient.open(`${fixture.server.url}/api/v1/sessions/${sessionId}/stream`, { token });
  const serviceBefore = await SseClient.open(`${fixture.server.url}/api/stream`, { token });
  const chat = await SseClient.open(`${fixture.server.url}/api/v1/chat/${sessionId}/message`, { token, method: 'POST', body: { content: 'crash in the middle' } });
  await before.waitFor((events) => events.filter((event) => event.event === 'content').length >= 200, 20_000);
  await serviceBefore.waitFor((events) => events.filter((event) => event.data.type === 'assistant_message_delta').length >= 200, 20_000);
  await fixture.restart('kill');
  for (const client of [before, serviceBefore, chat]) client.close();
  const seen = before.events.slice(1); // the first frame is the opening `status`
  const lastSeenSeq = Number(seen.at(-1)!.id);
  const lastSeenId = Number(serviceBefore.events.at(-1)!.id);

  const resumed = await SseClient.open(`${fixture.server.url}/api/v1/sessions/${sessionId}/stream`, { token, lastEventId: lastSeenSeq });
  const serviceResumed = await SseClient.open(`${fixture.server.url}/api/stream`, { token, lastEventId: lastSeenId });
  await resumed.waitForEvent('done', 30_000);
  await serviceResumed.waitFor((events) => events.some((event) => event.data.type === 'task_completed'), 30_000);
  resumed.close();
  serviceResumed.close();
  assert.ok(resumed.events.every((event) => event.event === 'reset' || Number(event.id) > lastSeenSeq), 'nothing at or below the cursor');
  assert.ok(serviceResumed.events.every((event) => Number(event.id) > lastSeenId), 'nothing at or below the global cursor');
  const done = resumed.events.find((event) => event.event === 'done')!;
  assert.equal(done.data.content, 'answer after the crash');

  // The whole stored log: what was seen and is stored is byte for byte what was seen, and
  // everything stored after the crash has a cursor above anything seen before it.
  const full = { events: await fixture.wholeLog() };
  const stored = new Map(full.events.map((event) => [event.id, event]));
  const storedBelow = full.events.filter((event) => Number(event.id) <= lastSeenSeq);
  const seenById = new Map(seen.map((event) => [event.id, event]));
  for (const event of storedBelow) assert.equal(seenById.get(event.id)?.raw, event.raw, `stored event ${event.id} is what the client saw`);
  const lost = seen.filter((event) => !stored.has(event.id));
  if (options.nothingLost) assert.equal(lost.length, 0, 'several writing processes: only what is committed is published');
  assert.ok(lost.every((event) => event.event === 'content'), 'only token deltas can be lost');
  const firstLost = lost.length > 0 ? seen.indexOf(lost[0]!) : seen.length;
  assert.deepEqual(seen.slice(firstLost), lost, 'what is lost is the tail of what was seen');
  assert.ok(lost.length <= MAX_UNWRITTEN_EVENTS, 'bounded by the write-behind limit');
  const resumedMarker = full.events.find((event) => event.event === 'status' && event.data.resumed === true);
  assert.ok(resumedMarker && Number(resumedMarker.id) > lastSeenSeq, 'the resumed run says so after every cursor seen');
}

describe('event log across a crash', () => {
  test('kill -9 mid-answer: what was seen and lost is only the tail of token deltas, and no cursor is reused', () =>
    withSession((fixture) => crashMidAnswer(fixture, { nothingLost: false })));

  test('scale-out (PostgreSQL + Redis): kill -9 mid-answer loses nothing a client saw', { skip: TEST_DATABASE !== 'postgres' && 'scale-out needs PostgreSQL' }, () =>
    withSession((fixture) => crashMidAnswer(fixture, { nothingLost: true }), `[redis]\nurl = "${REDIS_URL}"`));

  test('one writing process: a second server on the same database is refused at start, and told the way out', () =>
    withSession(async (fixture) => {
      const environment = fixture.environment;
      const database = TEST_DATABASE === 'postgres' ? 'PostgreSQL' : 'SQLite';
      await assert.rejects(environment.spawn({ toml: fixture.toml }), new RegExp(`another TokenDance process is writing this ${database} database.*scale-out`));
      // The first server still works.
      const health = await fixture.server.api('GET', '/api/health');
      assert.equal(health.status, 200);
    }));

  test('a graceful restart continues cursors without a gap', () =>
    withSession(async (fixture) => {
      const { fake, sessionId, token } = fixture;
      const chat = async (content: string) => {
        const response = await SseClient.open(`${fixture.server.url}/api/v1/chat/${sessionId}/message`, { token, method: 'POST', body: { content } });
        await response.waitForEnd();
      };
      fake.enqueue({ text: 'first answer' }, { text: 'second answer' });
      await chat('one');
      const beforeRestart = await fixture.wholeLog();
      await fixture.restart('stop');
      await chat('two');
      const all = await fixture.wholeLog();
      const lastBefore = Number(beforeRestart.at(-1)!.id);
      const firstAfter = Number(all[beforeRestart.length]!.id);
      // A few log events between them are not session-stream frames (user_message, …); a crash would skip MAX_UNWRITTEN_EVENTS.
      assert.ok(firstAfter > lastBefore && firstAfter - lastBefore < 10, `cursor ${firstAfter} follows ${lastBefore}`);
    }));
});

describe('the global order across sessions', () => {
  /**
   * A durable event of one session (a run's start or end, waiting for its write) holds back only
   * that session's deltas; the Service API stream, ordered by global id, must still never see a
   * higher id before a lower one, live or replayed.
   */
  test('runs in six sessions, started while others stream: /api/stream is in id order live and the same when replayed', () =>
    withSession(async (fixture) => {
      const { fake, token, server } = fixture;
      const user = { token };
      const workspaceId = (await server.api('GET', `/api/v1/sessions/${fixture.sessionId}`, { token })).body.workspace_id;
      const sessions: string[] = [fixture.sessionId];
      for (let index = 1; index < 6; index++) {
        const created = await server.api('POST', '/api/v1/sessions', { token, body: { workspace_id: workspaceId } });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        sessions.push(created.body.id);
      }
      const tokens = 300;
      for (let index = 0; index < sessions.length; index++) fake.enqueue({ tokens, tokenDelayMs: 1 });
      const live = await SseClient.open(`${server.url}/api/stream`, { token: user.token });
      const chat = (sessionId: string) => SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token, method: 'POST', body: { content: 'go' } });
      const chats = await Promise.all(sessions.slice(0, 3).map(chat));
      await live.waitFor((events) => events.filter((event) => event.data.type === 'assistant_message_delta').length >= 100, 20_000);
      chats.push(...(await Promise.all(sessions.slice(3).map(chat))));
      for (const stream of chats) assert.equal(stream.status, 200, JSON.stringify(stream.errorBody));
      for (const stream of chats) await stream.waitForEvent('done', 30_000);
      await live.waitFor((events) => events.filter((event) => event.data.type === 'task_completed').length === sessions.length, 20_000);
      await sleep(100);
      live.close();

      const ids = live.events.map((event) => Number(event.id));
      for (let index = 1; index < ids.length; index++) assert.ok(ids[index]! > ids[index - 1]!, `id ${ids[index]} after ${ids[index - 1]}`);
      const runs = new Set(live.events.map((event) => event.data.run_id));
      assert.equal(runs.size, sessions.length);
      for (const runId of runs) {
        const deltas = live.events.filter((event) => event.data.run_id === runId && event.data.type === 'assistant_message_delta');
        assert.equal(deltas.length, tokens, `every delta of run ${runId}`);
      }
      // The later runs started while the first ones streamed: their starts sit among other runs' deltas.
      const lateStart = live.events.findIndex((event) => event.data.type === 'task_started' && event.data.session_id === sessions[5]);
      const firstEnd = live.events.findIndex((event) => event.data.type === 'task_completed');
      assert.ok(lateStart >= 0 && lateStart < firstEnd, 'runs overlapped');

      // Each chat stream: its own session only, strictly increasing cursors, every token, then done.
      chats.forEach((stream, index) => {
        const cursors = stream.events.map((event) => Number(event.id));
        for (let position = 1; position < cursors.length; position++) assert.ok(cursors[position]! > cursors[position - 1]!);
        assert.equal(stream.events.filter((event) => event.event === 'content').length, tokens, `chat stream of session ${index}`);
        assert.ok(stream.events.every((event) => event.data.run_id === undefined || runs.has(event.data.run_id)));
      });

      // Replayed from the log, the global stream is exactly what was seen live.
      const replay = await SseClient.open(`${server.url}/api/stream`, { token, lastEventId: 0 });
      await replay.waitFor((events) => events.length >= live.events.length, 20_000);
      await sleep(100);
      replay.close();
      assert.deepEqual(
        replay.events.map((event) => `${event.id} ${event.raw}`),
        live.events.map((event) => `${event.id} ${event.raw}`),
      );
    }));
});
