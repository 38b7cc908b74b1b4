import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { LocalEventBus } from '../src/events/bus.js';
import { MAX_EVENTS_PER_PACK } from '../src/events/delta-pack-format.js';
import { EventLog } from '../src/events/log.js';
import type { StoredEvent } from '../src/events/types.js';
import { Store } from '../src/store/store.js';
import { createTestDatabase, TEST_DATABASE, type TestDatabase } from './support/database.js';

/**
 * Token deltas written in one batch share a row per session (src/events/delta-packs.ts). Whatever
 * the cursor a reader resumes from — inside a pack, at its edge, before a pack that started
 * earlier in the global order — it gets every later event once, in order, and nothing else.
 */
describe(`delta packs (${TEST_DATABASE})`, () => {
  let dir: string;
  let database: TestDatabase;
  let store: Store;
  let log: EventLog;
  const expected = new Map<string, StoredEvent[]>();
  /** Each session's delta JSON as appended, in order. */
  const appended = new Map<string, string[]>();
  const noError = (error: unknown) => assert.fail(String(error));
  /** The answers runs announced with message_completed and done, by session, and the JSON appended for them. */
  const answers = new Map<string, { answer: string; completed: string; done: string }>();
  const longAnswer = `the answer "quoted" \n newline, unit\u001f nul\u0000 😀 lone\ud800 ${'and on '.repeat(60)}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokendance-packs-'));
    database = await createTestDatabase(dir);
    store = await Store.open(database.url);
    const db = store.handle.db;
    const now = new Date().toISOString();
    for (const [user, workspace] of [
      ['u', 'w'],
      ['v', 'w2'],
    ] as const) {
      await db.insertInto('users').values({ id: user, email: `${user}@example.com`, username: user, password_hash: 'x', created_at: now }).execute();
      await db.insertInto('workspaces').values({ id: workspace, name: workspace, owner_id: user, created_at: now, tool_policy: null }).execute();
      await db.insertInto('workspace_members').values({ workspace_id: workspace, user_id: user, role: 'owner', created_at: now }).execute();
    }
    for (const [id, workspace, user] of [
      ['s1', 'w', 'u'],
      ['s2', 'w', 'u'],
      ['s3', 'w', 'u'],
      ['t1', 'w2', 'v'],
    ]) {
      await db
        .insertInto('sessions')
        .values({ id: id!, workspace_id: workspace!, user_id: user!, title: id!, task_type: 'general', status: 'idle', kind: 'chat', input_tokens: 0, output_tokens: 0, last_event_seq: 0, compacted_through_seq: 0, created_at: now, updated_at: now })
        .execute();
    }
    log = new EventLog(await store.openEventStore(), new LocalEventBus());
    const record = (event: StoredEvent) => expected.set(event.sessionId, [...(expected.get(event.sessionId) ?? []), event]);
    // Interleaved as concurrent runs append them, broken up by a durable event, a type change and a second run.
    for (let index = 0; index < 3 * MAX_EVENTS_PER_PACK; index++) {
      for (const session of ['s1', 's2', 's3', 't1']) {
        const runId = session === 's3' && index >= 100 ? 'second-run' : null;
        const type = session === 's3' && index % 50 === 7 ? 'thinking' : 'content';
        // Every character a column separator or an escape could trip on (the PostgreSQL writer joins columns with \u001f).
        const text = `${session}-${index} "quoted" \n newline, tab\t back\\slash unit\u001f nul\u0000 😀 lone\ud800`;
        // As the recorder writes them, run_id last; now and then not last, which a pack cannot shorten.
        const data = runId === null ? { text } : index % 13 === 0 ? { run_id: runId, text } : { text, iteration: 1, run_id: runId };
        appended.set(session, [...(appended.get(session) ?? []), JSON.stringify(data)]);
        log.appendDelta(session, runId, type, JSON.stringify(data), noError);
      }
      if (index % 40 === 5) await log.append('s2', null, 'tool_call', { tool: 'x,\u001f\u0000', index });
    }
    // As a run ends: its last message_completed and done appended together, each carrying the answer.
    // s1's long answer is stored once; s2's is too short to share, and s3's two differ.
    for (const [session, completedAnswer, doneAnswer] of [
      ['s1', longAnswer, longAnswer],
      ['s2', 'short answer', 'short answer'],
      ['s3', longAnswer, `${longAnswer}!`],
    ] as const) {
      const runId = `${session}-answering-run`;
      const completed = { content: completedAnswer, iteration: 2, run_id: runId };
      const done = { message: 'Task completed', content: doneAnswer, artifacts: [], usage: { input_tokens: 1, output_tokens: 2 }, iterations: 2, duration_ms: 5, run_id: runId };
      answers.set(session, { answer: completedAnswer, completed: JSON.stringify(completed), done: JSON.stringify(done) });
      await Promise.all([log.append(session, runId, 'message_completed', completed), log.append(session, runId, 'done', done)]);
    }
    await log.drain();
    for (const session of ['s1', 's2', 's3', 't1']) {
      for (const event of await log.listAfter(session, 0, 100_000)) record(event);
    }
  });

  after(async () => {
    await log.close();
    await store.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('deltas are stored packed: far fewer rows than events, each event back with its own cursors, time and text', async () => {
    const events = [...expected.values()].flat();
    const { count } = await store.handle.db.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
    assert.ok(Number(count) * 4 < events.length, `${count} rows hold ${events.length} events`);
    for (const [session, list] of expected) {
      assert.deepEqual(list.map((event) => event.seq), Array.from({ length: list.length }, (_, index) => index + 1), `${session}: every cursor once, in order`);
      for (const event of list) {
        assert.equal(event.sessionId, session);
        assert.ok(event.createdAt.endsWith('Z'));
        if (event.type === 'content' || event.type === 'thinking') assert.match(String(event.data.text), new RegExp(`^${session}-\\d+ "quoted" \\n newline, tab\\t back\\\\slash unit\u001f nul\u0000 😀 lone\ud800$`));
        if (event.type === 'tool_call') assert.equal(event.data.tool, 'x,\u001f\u0000');
      }
    }
    for (const [session, texts] of appended) {
      const deltas = expected.get(session)!.filter((event) => event.type === 'content' || event.type === 'thinking');
      assert.deepEqual(deltas.map((event) => event.json), texts, `${session}: each delta's JSON exactly as appended`);
      const times = deltas.map((event) => event.createdAt);
      assert.ok(times.every((time, index) => new Date(time).toISOString() === time && (index === 0 || time >= times[index - 1]!)), 'times read back as written');
    }
    const rows = await store.handle.db.selectFrom('events').select(['type', 'data']).where('run_id', '=', 'second-run').execute();
    const packs = rows.filter((row) => row.data.startsWith('%'));
    assert.ok(packs.length > 0 && !rows.some((row) => row.type === 'content' && row.data.startsWith('{"run_id"')), 'deltas whose run_id is not last are packed too');
    // s1's deltas differ only in their index: a pack holds what they share once.
    const s1Packs = await store.handle.db.selectFrom('events').select('data').where('session_id', '=', 's1').where('type', '=', 'content').execute();
    const stored = s1Packs.reduce((sum, row) => sum + row.data.length, 0);
    const whole = expected.get('s1')!.filter((event) => event.type === 'content').reduce((sum, event) => sum + event.json.length, 0);
    assert.ok(stored * 4 < whole, `s1's packs hold ${stored} characters for ${whole} of JSON`);
    const s3 = expected.get('s3')!;
    assert.ok(s3.some((event) => event.type === 'thinking') && s3.some((event) => event.runId === 'second-run'));
    const ids = events.map((event) => event.id);
    assert.equal(new Set(ids).size, ids.length, 'global ids are unique');
  });

  test("a run's answer, in both its message_completed and its done, is stored once when long; each event reads back as appended", async () => {
    for (const [session, appendedAnswer] of answers) {
      const [completed, done] = expected.get(session)!.slice(-2);
      assert.deepEqual([completed!.type, done!.type], ['message_completed', 'done']);
      assert.equal(done!.seq, completed!.seq + 1);
      assert.equal(completed!.json, appendedAnswer.completed);
      assert.equal(done!.json, appendedAnswer.done);
      assert.equal(done!.data.content, session === 's3' ? `${appendedAnswer.answer}!` : appendedAnswer.answer);
      assert.ok(completed!.createdAt <= done!.createdAt && new Date(completed!.createdAt).toISOString() === completed!.createdAt);
      const rows = await store.handle.db.selectFrom('events').select('data').where('run_id', '=', `${session}-answering-run`).where('type', 'in', ['message_completed', 'done']).execute();
      if (session === 's1') {
        assert.equal(rows.length, 1, 'one row holds both');
        assert.equal(rows[0]!.data.split(JSON.stringify(longAnswer)).length, 2, 'the answer once');
      } else assert.equal(rows.length, 2, `${session}: stored as two rows`);
    }
  });

  test('a session read resumed from every cursor, in small pages, returns exactly the events after it', async () => {
    for (const [session, list] of expected) {
      for (let cursor = 0; cursor <= list.length; cursor++) {
        const page = await log.listAfter(session, cursor, 5);
        assert.deepEqual(
          page.slice(0, 5).map((event) => event.seq),
          list.slice(cursor, cursor + 5).map((event) => event.seq),
          `${session} after ${cursor}`,
        );
        assert.ok(page.length >= Math.min(5, list.length - cursor), 'a short page means the end');
        assert.deepEqual(
          page.map((event) => event.json),
          list.slice(cursor, cursor + page.length).map((event) => event.json),
        );
      }
    }
  });

  test("the global order, resumed from every id, returns exactly the user's later events once, in id order", async () => {
    const mine = ['s1', 's2', 's3'].flatMap((session) => expected.get(session)!).sort((a, b) => a.id - b.id);
    const read = async (from: number, limit: number) => {
      const seen: StoredEvent[] = [];
      for (let cursor = from; ; ) {
        const page = await log.listForUserAfter('u', cursor, limit);
        seen.push(...page);
        if (page.length < limit) return seen;
        cursor = page.at(-1)!.id;
      }
    };
    assert.deepEqual((await read(0, 7)).map((event) => event.id), mine.map((event) => event.id), 'from the start, in pages of 7');
    assert.deepEqual((await read(0, 500)).map((event) => event.json), mine.map((event) => event.json));
    for (let index = 0; index < mine.length; index += 7) {
      const cursor = mine[index]!.id;
      const page = await log.listForUserAfter('u', cursor, 9);
      assert.deepEqual(
        page.map((event) => event.id),
        mine.slice(index + 1, index + 1 + page.length).map((event) => event.id),
        `after id ${cursor}`,
      );
      assert.ok(page.length >= Math.min(9, mine.length - index - 1), 'a short page means the end');
    }
    const others = await read(0, 50);
    assert.ok(others.every((event) => event.sessionId !== 't1'), "another user's packs never appear");
  });

  test('on PostgreSQL, packs and every other long text are compressed with lz4 (pglz cost the writing connection several times more)', { skip: TEST_DATABASE !== 'postgres' && 'compression methods are PostgreSQL\'s' }, async () => {
    const { rows } = await sql<{ method: string | null; count: number }>`select pg_column_compression(data) as method, count(*)::int as count from events group by 1`.execute(store.handle.db);
    const compressed = rows.filter((row) => row.method !== null);
    assert.ok(compressed.length > 0, 'packs of this size are compressed');
    assert.deepEqual(compressed.map((row) => row.method), ['lz4']);
    const columns = await sql<{ name: string; method: string }>`select attrelid::regclass::text || '.' || attname as name, attcompression::text as method from pg_attribute
      where attrelid in ('events'::regclass, 'runs'::regclass, 'messages'::regclass) and attname in ('data', 'answer', 'input', 'checkpoint', 'content') order by 1`.execute(store.handle.db);
    assert.deepEqual(
      columns.rows.map((row) => `${row.name} ${row.method}`),
      ['events.data l', 'messages.content l', 'runs.answer l', 'runs.checkpoint l', 'runs.input l'],
      'every column of long text is compressed with lz4',
    );
  });

  test('packs in the earlier formats (whole JSON and ISO times; JSON less its run_id and ms offsets) are still read', async () => {
    const db = store.handle.db;
    const now = '2026-12-01T10:00:00.000Z';
    await db
      .insertInto('sessions')
      .values({ id: 'old', workspace_id: 'w2', user_id: 'v', title: 'old', task_type: 'general', status: 'idle', kind: 'chat', input_tokens: 0, output_tokens: 0, last_event_seq: 0, compacted_through_seq: 0, created_at: now, updated_at: now })
      .execute();
    const lines = ['9000001 2026-12-01T10:00:00.001Z {"text":"a","run_id":"r"}', '9000003 2026-12-01T10:00:00.002Z {"text":"b \\" c","run_id":"r"}'];
    await db
      .insertInto('events')
      .values({ id: 9_000_001, session_id: 'old', seq: 2, run_id: 'r', type: 'content', data: `#${lines.join('\n')}`, created_at: '2026-12-01T10:00:00.002Z' })
      .execute();
    const suffixLines = ['9000004 5 {"text":"d"', '9000006 0 {"text":"e \\" f"'];
    await db
      .insertInto('events')
      .values({ id: 9_000_004, session_id: 'old', seq: 4, run_id: 'r', type: 'content', data: `$${suffixLines.join('\n')}`, created_at: '2026-12-01T10:00:00.010Z' })
      .execute();
    const events = await log.listAfter('old', 0, 10);
    assert.deepEqual(
      events.map((event) => [event.id, event.seq, event.createdAt, event.json]),
      [
        [9_000_001, 1, '2026-12-01T10:00:00.001Z', '{"text":"a","run_id":"r"}'],
        [9_000_003, 2, '2026-12-01T10:00:00.002Z', '{"text":"b \\" c","run_id":"r"}'],
        [9_000_004, 3, '2026-12-01T10:00:00.005Z', '{"text":"d","run_id":"r"}'],
        [9_000_006, 4, '2026-12-01T10:00:00.010Z', '{"text":"e \\" f","run_id":"r"}'],
      ],
    );
    assert.deepEqual((await log.listAfter('old', 1, 10)).map((event) => event.id), [9_000_003, 9_000_004, 9_000_006]);
    assert.deepEqual((await log.listAfter('old', 3, 10)).map((event) => event.id), [9_000_006]);
  });

  test('a pack never splits a surrogate pair between its shared head or tail and a line', async () => {
    const now = new Date().toISOString();
    await store.handle.db
      .insertInto('sessions')
      .values({ id: 'emoji', workspace_id: 'w2', user_id: 'v', title: 'emoji', task_type: 'general', status: 'idle', kind: 'chat', input_tokens: 0, output_tokens: 0, last_event_seq: 0, compacted_through_seq: 0, created_at: now, updated_at: now })
      .execute();
    // U+1F600 and U+1F601 share their high surrogate, U+1F600 and U+1FA00 their low one.
    const texts = ['\u{1F600}a \u{1F600}', '\u{1F601}b \u{1FA00}', '\u{1F600}c \u{1F600}', '\u{1F601}'];
    const appendedJson = texts.map((text) => JSON.stringify({ text, iteration: 1, run_id: 'emoji-run' }));
    for (const json of appendedJson) log.appendDelta('emoji', 'emoji-run', 'content', json, noError);
    await log.drain();
    assert.deepEqual((await log.listAfter('emoji', 0, 10)).map((event) => event.json), appendedJson);
    const rows = await store.handle.db.selectFrom('events').select('data').where('session_id', '=', 'emoji').execute();
    assert.equal(rows.length, 1);
    assert.ok(rows[0]!.data.startsWith('%') && rows[0]!.data.isWellFormed(), 'one pack, every surrogate paired');
  });
});
