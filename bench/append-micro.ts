/**
 * Micro-benchmark of the event-log write path on SQLite, in isolation (no HTTP, no model): what
 * one `events` append costs as the server does it today (src/store/repositories/events.ts
 * `append`, one Kysely transaction per batch) for several batch sizes, against raw
 * better-sqlite3 with prepared statements reused. Explains the relay bench's CPU and
 * disk-write numbers.
 *
 *   node --import tsx bench/append-micro.ts [events=4000]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { openDatabase } from '../src/store/database.js';
import { migrateToLatest } from '../src/store/migrations.js';
import { EventsRepository, type EventDraft } from '../src/store/repositories/events.js';

const EVENTS = Number(process.argv[2] ?? 4000);
const dir = mkdtempSync(join(tmpdir(), 'tokendance-append-micro-'));

const writeBytes = (): number => Number(/^write_bytes:\s+(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);
const cpuMs = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

interface Result {
  variant: string;
  usPerEvent: number;
  cpuUsPerEvent: number;
  diskBytesPerEvent: number;
}

async function measure(variant: string, run: () => Promise<void> | void): Promise<Result> {
  const wall = performance.now();
  const cpu = cpuMs();
  const disk = writeBytes();
  await run();
  return {
    variant,
    usPerEvent: ((performance.now() - wall) * 1000) / EVENTS,
    cpuUsPerEvent: ((cpuMs() - cpu) * 1000) / EVENTS,
    diskBytesPerEvent: (writeBytes() - disk) / EVENTS,
  };
}

const draft = (sessionId: string, index: number): EventDraft => ({
  session_id: sessionId,
  run_id: 'run-1',
  type: 'content',
  data: JSON.stringify({ text: `<t:${(performance.timeOrigin + performance.now()).toFixed(3)}>`, iteration: 1, run_id: 'run-1', n: index }),
  created_at: new Date().toISOString(),
});

try {
  const path = join(dir, 'micro.db');
  const handle = openDatabase(`sqlite://${path}`);
  await migrateToLatest(handle.db as never, 'sqlite');
  const now = new Date().toISOString();
  await sql`insert into users (id, email, username, password_hash, created_at) values ('u1', 'u1@example.com', 'u1', 'x', ${now})`.execute(handle.db);
  await sql`insert into workspaces (id, name, owner_id, created_at) values ('w1', 'w', 'u1', ${now})`.execute(handle.db);
  const sessionIds = Array.from({ length: 8 }, (_, index) => `s${index}`);
  for (const id of sessionIds) {
    await sql`insert into sessions (id, workspace_id, user_id, title, task_type, status, kind, created_at, updated_at)
              values (${id}, 'w1', 'u1', 't', 'general', 'idle', 'chat', ${now}, ${now})`.execute(handle.db);
  }
  const repository = new EventsRepository(handle.db, 'sqlite');
  const results: Result[] = [];

  for (const batch of [1, 10, 100]) {
    results.push(
      await measure(`Kysely EventsRepository.append, ${batch} event(s)/transaction`, async () => {
        for (let at = 0; at < EVENTS; at += batch) {
          await repository.append(Array.from({ length: batch }, (_, index) => draft(sessionIds[(at / batch) % sessionIds.length]!, at + index)));
        }
      }),
    );
  }
  await handle.close();

  // Same statements, same transaction shape, prepared once: the cost of SQLite itself.
  const raw = new BetterSqlite3(path);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('foreign_keys = ON');
  const bump = raw.prepare('update sessions set last_event_seq = last_event_seq + ? where id = ? returning last_event_seq');
  const insert = raw.prepare('insert into events (session_id, run_id, type, data, created_at, seq) values (?, ?, ?, ?, ?, ?) returning id');
  const appendRaw = raw.transaction((drafts: EventDraft[]) => {
    const sessionId = drafts[0]!.session_id;
    const last = Number((bump.get(drafts.length, sessionId) as { last_event_seq: number }).last_event_seq);
    drafts.forEach((item, index) => insert.get(item.session_id, item.run_id, item.type, item.data, item.created_at, last - drafts.length + 1 + index));
  });
  for (const batch of [1, 10, 100]) {
    results.push(
      await measure(`raw better-sqlite3, statements reused, ${batch} event(s)/transaction`, () => {
        for (let at = 0; at < EVENTS; at += batch) {
          appendRaw(Array.from({ length: batch }, (_, index) => draft(sessionIds[(at / batch) % sessionIds.length]!, at + index)));
        }
      }),
    );
  }
  raw.close();

  console.log(`SQLite event append, ${EVENTS} events per variant (WAL, synchronous=NORMAL, foreign_keys=ON, as src/store/database.ts)\n`);
  console.log('| variant | wall µs/event | CPU µs/event | disk bytes/event |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const result of results) {
    console.log(`| ${result.variant} | ${result.usPerEvent.toFixed(1)} | ${result.cpuUsPerEvent.toFixed(1)} | ${result.diskBytesPerEvent.toFixed(0)} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
