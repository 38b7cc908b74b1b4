import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { LocalEventBus } from '../src/events/bus.js';
import { EventLog } from '../src/events/log.js';
import { SseWriter } from '../src/events/sse-writer.js';
import { CaughtSessionEvents, replayThenLive, streamSession } from '../src/events/stream.js';
import type { StoredEvent } from '../src/events/types.js';
import { StoreRunRecorder } from '../src/agent/recorder.js';
import { Store } from '../src/store/store.js';
import { SqliteEventStore } from '../src/store/sqlite/event-store.js';

/**
 * The event log's edge cases that no HTTP client can time on purpose, on a real database:
 * a stream opening while an event waits for its write, cursors across crashes and restarts,
 * a listener that throws, a replay whose read fails.
 */
const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

async function sqliteStore(path?: string): Promise<{ store: Store; path: string }> {
  if (!path) {
    const dir = mkdtempSync(join(tmpdir(), 'tokendance-log-'));
    dirs.push(dir);
    path = join(dir, 'log.db');
  }
  return { store: await Store.open(`sqlite://${path}`), path };
}

async function addSession(store: Store, id: string): Promise<void> {
  const now = new Date().toISOString();
  const db = store.handle.db;
  if (!(await db.selectFrom('users').select('id').where('id', '=', 'u').executeTakeFirst())) {
    await db.insertInto('users').values({ id: 'u', email: 'u@example.com', username: 'u', password_hash: 'x', created_at: now }).execute();
    await db.insertInto('workspaces').values({ id: 'w', name: 'w', owner_id: 'u', created_at: now, tool_policy: null }).execute();
  }
  await db
    .insertInto('sessions')
    .values({ id, workspace_id: 'w', user_id: 'u', title: id, task_type: 'general', status: 'idle', kind: 'chat', input_tokens: 0, output_tokens: 0, last_event_seq: 0, compacted_through_seq: 0, created_at: now, updated_at: now })
    .execute();
}

const sqliteDriver = (store: Store) => {
  const driver = store.handle.driver;
  assert.equal(driver.dialect, 'sqlite');
  return driver.connection;
};

describe('event log internals (SQLite)', () => {
  test('a new database gets 1 KB pages; an existing one keeps its page size and opens as before', async () => {
    const fresh = await sqliteStore();
    assert.equal(sqliteDriver(fresh.store).pragma('page_size', { simple: true }), 1024);
    await fresh.store.close();

    const dir = mkdtempSync(join(tmpdir(), 'tokendance-log-'));
    dirs.push(dir);
    const path = join(dir, 'old.db');
    const old = new BetterSqlite3(path);
    old.pragma('page_size = 4096');
    old.pragma('journal_mode = WAL');
    old.exec('create table before_upgrade (x)');
    old.close();
    const reopened = await sqliteStore(path);
    assert.equal(sqliteDriver(reopened.store).pragma('page_size', { simple: true }), 4096);
    await addSession(reopened.store, 's1');
    await reopened.store.close();
  });

  test('a stream opened while an event waits for its write starts before it', async () => {
    const { store } = await sqliteStore();
    await addSession(store, 's1');
    const bus = new LocalEventBus();
    const log = new EventLog(await store.openEventStore(), bus);
    await log.append('s1', null, 'status', { state: 'a' });
    const waiting = log.append('s1', null, 'tool_call', { tool: 'x' }); // numbered now, published on the next turn
    const head = await log.headSeq('s1');
    const published: StoredEvent[] = [];
    const unsubscribe = bus.subscribeSession('s1', (event) => published.push(event));
    const event = await waiting;
    unsubscribe();
    assert.ok(head < event.seq, `head ${head} must be before the waiting event ${event.seq}`);
    assert.deepEqual(published.map((e) => e.seq), [event.seq]);
    assert.ok((await log.headId()) >= event.id);
    await log.close();
    await store.close();
  });

  test('after a crash, cursors continue past anything that may have been published, across later clean restarts too', async () => {
    const first = await sqliteStore();
    await addSession(first.store, 's1');
    const crashed = new SqliteEventStore(sqliteDriver(first.store));
    const seen = [crashed.allocate('s1')!, crashed.allocate('s1')!, crashed.allocate('s1')!];
    // Nothing written and no clean shutdown: the process dies here.
    await first.store.close();

    const second = await sqliteStore(first.path);
    new SqliteEventStore(sqliteDriver(second.store)).close(); // starts after the crash, touches nothing, stops cleanly
    await second.store.close();

    const third = await sqliteStore(first.path);
    const after = new SqliteEventStore(sqliteDriver(third.store));
    const next = after.allocate('s1')!;
    assert.ok(next.seq > seen.at(-1)!.seq, `seq ${next.seq} is above every seq seen (${seen.at(-1)!.seq})`);
    assert.ok(next.id > seen.at(-1)!.id, `id ${next.id} is above every id seen (${seen.at(-1)!.id})`);
    after.close();
    await third.store.close();
  });

  test('ids published but never stored (the session was deleted) are not handed out again after a clean restart', async () => {
    const first = await sqliteStore();
    await addSession(first.store, 'gone');
    await addSession(first.store, 's2');
    const bus = new LocalEventBus();
    const log = new EventLog(await first.store.openEventStore(), bus);
    const seen: StoredEvent[] = [];
    bus.subscribeAll((event) => seen.push(event));
    const errors: unknown[] = [];
    log.appendDelta('gone', null, 'content', JSON.stringify({ text: 'a' }), (error) => errors.push(error));
    log.appendDelta('gone', null, 'content', JSON.stringify({ text: 'b' }), (error) => errors.push(error));
    await first.store.handle.db.deleteFrom('sessions').where('id', '=', 'gone').execute();
    await log.close();
    assert.equal(errors.length, 2, 'the deltas of the deleted session are reported as not stored');
    await first.store.close();

    const second = await sqliteStore(first.path);
    const restarted = new SqliteEventStore(sqliteDriver(second.store));
    assert.ok(restarted.allocate('s2')!.id > Math.max(...seen.map((event) => event.id)));
    restarted.close();
    await second.store.close();
  });

  test('a durable event writes only its own session with it; deltas behind it wait: those of its session on it, global subscribers in id order', async () => {
    const { store } = await sqliteStore();
    await addSession(store, 's1');
    await addSession(store, 's2');
    const bus = new LocalEventBus();
    const log = new EventLog(await store.openEventStore(), bus);
    const published: string[] = [];
    bus.subscribeAll((event) => published.push(`${event.sessionId}:${event.type}`));
    const ofSession = (sessionId: string) => {
      const seen: string[] = [];
      bus.subscribeSession(sessionId, (event) => seen.push(event.type));
      return seen;
    };
    const s1Seen = ofSession('s1');
    const s2Seen = ofSession('s2');
    const noError = (error: unknown) => assert.fail(String(error));
    const stored = async () => (await store.handle.db.selectFrom('events').select(['session_id', 'type']).orderBy('id').execute()).map((row) => `${row.session_id}:${row.type}`);

    log.appendDelta('s2', null, 'content', JSON.stringify({ text: 'other session' }), noError);
    await log.append('s1', null, 'tool_call', { tool: 'x' });
    assert.deepEqual(await stored(), ['s1:tool_call'], "the other session's delta stays in its write-behind batch");
    assert.equal((await log.listAfter('s2', 0)).length, 1, 'and is readable from memory meanwhile');

    const durable = log.append('s1', null, 'tool_result', { tool: 'x' });
    log.appendDelta('s2', null, 'content', JSON.stringify({ text: 'behind it' }), noError);
    log.appendDelta('s1', null, 'content', JSON.stringify({ text: 'behind it in its session' }), noError);
    assert.deepEqual(s2Seen, ['content', 'content'], "another session's delta reaches that session's subscribers at once");
    assert.deepEqual(s1Seen, ['tool_call'], "the waiting event's session gets nothing past it");
    assert.deepEqual(published, ['s2:content', 's1:tool_call'], 'global subscribers get nothing past the waiting id');
    const head = await log.headId();
    assert.ok(head < (await durable).id, 'a Service API stream opened meanwhile starts before the waiting id');
    assert.deepEqual(s1Seen, ['tool_call', 'tool_result', 'content']);
    assert.deepEqual(published, ['s2:content', 's1:tool_call', 's1:tool_result', 's2:content', 's1:content'], 'in id order');
    await log.close();
    assert.deepEqual(await stored(), ['s2:content', 's1:tool_call', 's1:tool_result', 's1:content'], "s2's two deltas share one row (a pack, keyed by its first id)");
    await store.close();
  });

  test('a large flush is cut into transactions of whole sessions, none much over maxEventsPerWrite', async () => {
    const { store } = await sqliteStore();
    const sessions = ['s1', 's2', 's3', 's4'];
    for (const id of sessions) await addSession(store, id);
    const eventStore = await store.openEventStore();
    assert.equal(eventStore.kind, 'local');
    const max = eventStore.maxEventsPerWrite!;
    const perSession = Math.ceil(max / 2);
    const batches: string[][] = [];
    const write = eventStore.write.bind(eventStore);
    eventStore.write = (events) => {
      batches.push(events.map((event) => event.sessionId));
      return write(events);
    };
    const log = new EventLog(eventStore, new LocalEventBus());
    const noError = (error: unknown) => assert.fail(String(error));
    // Interleaved, as concurrent streams append them.
    for (let index = 0; index < perSession; index++) for (const id of sessions) log.appendDelta(id, null, 'content', JSON.stringify({ text: `${index}` }), noError);
    await log.drain();
    assert.ok(batches.length >= 2, `${batches.length} transactions`);
    const writtenIn = new Map<string, number>();
    batches.forEach((batch, at) => {
      assert.ok(batch.length <= max + perSession, `transaction of ${batch.length} events`);
      for (const id of batch) {
        assert.equal(writtenIn.get(id) ?? at, at, `session ${id} is written whole in one transaction`);
        writtenIn.set(id, at);
      }
    });
    for (const id of sessions) {
      const events = await log.listAfter(id, 0);
      assert.deepEqual(events.map((event) => event.seq), Array.from({ length: perSession }, (_, index) => index + 1));
    }
    await log.close();
    await store.close();
  });

  test('a listener that throws neither stalls the log nor loses the append', async () => {
    const { store } = await sqliteStore();
    await addSession(store, 's1');
    const heard: unknown[] = [];
    const bus = new LocalEventBus((error) => heard.push(error));
    const log = new EventLog(await store.openEventStore(), bus);
    bus.subscribeSession('s1', () => {
      throw new Error('listener bug');
    });
    const event = await log.append('s1', null, 'status', { state: 'x' });
    assert.equal(event.seq, 1);
    assert.equal(heard.length, 1);
    assert.equal((await log.listAfter('s1', 0)).length, 1);
    await log.close();
    await store.close();
  });
});

describe('replay that cannot read the log', () => {
  test('ends the SSE stream instead of leaving it open and silent', async () => {
    const server = createServer((_request, response) => {
      const writer = new SseWriter(response, { heartbeatMs: 50, maxBufferedBytes: 1 << 20, stallTimeoutMs: 5000 });
      void replayThenLive({
        writer,
        subscribe: () => () => {},
        readPage: async () => {
          throw new Error('database is down');
        },
        cursorOf: (event) => event.seq,
        after: 0,
        write: () => false,
      }).catch(() => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      const response = await fetch(`http://127.0.0.1:${port}/`);
      const body = await response.text(); // resolves only if the server ends the stream
      assert.match(body, /: connected/);
    } finally {
      server.close();
    }
  });
});

describe('a stream of events caught before they existed', () => {
  /** Serves one SSE response streaming session s1 after cursor 0 from `caught`, with a log that refuses reads unless `readable`. */
  async function streamOver(log: EventLog, bus: LocalEventBus, caught: CaughtSessionEvents, last: number, readable: boolean): Promise<number[]> {
    let reads = 0;
    const guarded = Object.create(log) as EventLog;
    guarded.listAfter = async (...args) => {
      reads++;
      if (!readable) throw new Error('the log was read');
      return log.listAfter(...args);
    };
    const server = createServer((_request, response) => {
      const writer = new SseWriter(response, { heartbeatMs: 60_000, maxBufferedBytes: 1 << 24, stallTimeoutMs: 5000 });
      void streamSession(guarded, bus, writer, 's1', 0, (event) => {
        writer.send(event.seq, 'e', '{}');
        return event.seq === last;
      }, caught).catch(() => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      const body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      const ids = [...body.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));
      assert.equal(reads > 0, readable, readable ? 'an overflowing catch reads the log' : 'no read of the log');
      return ids;
    } finally {
      server.close();
    }
  }

  test('are streamed from memory, in order, without a read of the log', async () => {
    const { store } = await sqliteStore();
    await addSession(store, 's1');
    const bus = new LocalEventBus();
    const log = new EventLog(await store.openEventStore(), bus);
    const caught = new CaughtSessionEvents(bus, 's1');
    await log.append('s1', null, 'run_started', {});
    for (let index = 0; index < 5; index++) log.appendDelta('s1', null, 'content', JSON.stringify({ text: `${index}` }), (error) => assert.fail(String(error)));
    await log.append('s1', null, 'done', {});
    assert.deepEqual(await streamOver(log, bus, caught, 7, false), [1, 2, 3, 4, 5, 6, 7]);
    await log.close();
    await store.close();
  });

  test('past what can be held, the stream reads the log instead and misses nothing', async () => {
    const { store } = await sqliteStore();
    await addSession(store, 's1');
    const bus = new LocalEventBus();
    const log = new EventLog(await store.openEventStore(), bus);
    const caught = new CaughtSessionEvents(bus, 's1');
    const total = 10_050;
    for (let index = 0; index < total - 1; index++) log.appendDelta('s1', null, 'content', JSON.stringify({ text: `${index}` }), (error) => assert.fail(String(error)));
    await log.append('s1', null, 'done', {});
    assert.equal(caught.whole, false);
    const ids = await streamOver(log, bus, caught, total, true);
    assert.deepEqual(ids, Array.from({ length: total }, (_, index) => index + 1));
    await log.close();
    await store.close();
  });
});

describe('a token delta as the recorder writes it', () => {
  test('is the JSON that JSON.stringify writes for its data, run_id last, whatever the text', () => {
    const written: Array<{ type: string; json: string }> = [];
    const log = { appendDelta: (_session: string, _run: string | null, type: string, json: string) => written.push({ type, json }) } as unknown as EventLog;
    const runId = 'run-"1"\\';
    const recorder = new StoreRunRecorder({} as Store, log, 's1', runId);
    const texts = ['plain', 'quote " backslash \\ newline \n tab \t', 'emoji 😀 and a lone surrogate \ud800', '\u0000\u001f\u2028', ''];
    for (const [index, text] of texts.entries()) {
      recorder.emitDelta('content', text, index);
      recorder.emitDelta('thinking', text, index);
    }
    const expected = texts.flatMap((text, index) => [
      { type: 'content', json: JSON.stringify({ text, iteration: index, run_id: runId }) },
      { type: 'thinking', json: JSON.stringify({ iteration: index, reasoning: text, run_id: runId }) },
    ]);
    assert.deepEqual(written, expected);
  });
});
