/**
 * The PostgreSQL event writer's statement in isolation: the backend's CPU per 1 000 tokens for
 * batches as burst c=100 writes them (100 sessions, 64 stamped deltas each, a `done` event with a
 * 200-token answer per session every third batch), with the rows sent as one jsonb array (the
 * writer before a8b0440) or as columns joined by \x1f (now), and `events.data` compressed with
 * pglz or lz4. Two rounds, same connection. Run: node --import tsx bench/pg-event-write.ts
 * (PostgreSQL at 127.0.0.1:5432; creates and drops database td_wb).
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { Store } from '../src/store/store.js';
import { packRows } from '../src/events/delta-packs.js';
import { LoggedEvent, type StoredEvent } from '../src/events/types.js';

const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' });
await admin.connect();
await admin.query('drop database if exists td_wb with (force)');
await admin.query('create database td_wb');
const url = 'postgres://postgres@127.0.0.1:5432/td_wb';
const store = await Store.open(url);
const db = store.handle.db;
const now = new Date().toISOString();
await db.insertInto('users').values({ id: 'u', email: 'u@example.com', username: 'u', password_hash: 'x', created_at: now }).execute();
await db.insertInto('workspaces').values({ id: 'w', name: 'w', owner_id: 'u', created_at: now, tool_policy: null }).execute();
const SESSIONS = 100;
for (let s = 0; s < SESSIONS; s++) {
  await db.insertInto('sessions').values({ id: `session-${s}-0000-0000-000000000000`, workspace_id: 'w', user_id: 'u', title: 't', task_type: 'general', status: 'idle', kind: 'chat', input_tokens: 0, output_tokens: 0, last_event_seq: 0, compacted_through_seq: 0, created_at: now, updated_at: now }).execute();
}
await store.close();

const JSON_WRITE = `
with input as (
  select (r->>0)::bigint as id, r->>1 as session_id, (r->>2)::bigint as seq, r->>3 as run_id, r->>4 as type, r->>5 as data, r->>6 as created_at
  from jsonb_array_elements($1::jsonb) as r
), inserted as (
  insert into events (id, session_id, seq, run_id, type, data, created_at)
  select input.* from input where exists (select 1 from sessions where sessions.id = input.session_id)
  returning id
), high as (
  insert into event_log_state (name, value) values ('max_id', $2)
  on conflict (name) do update set value = greatest(event_log_state.value, excluded.value)
)
select input.id from input where not exists (select 1 from inserted where inserted.id = input.id)`;
const src = readFileSync(new URL('../src/store/postgres/single-writer-event-store.ts', import.meta.url), 'utf8');
const SPLIT_WRITE = /const WRITE = `([\s\S]*?)`;/.exec(src)![1]!;

let nextId = 1;
const seqs = new Map<number, number>();
/** One batch: 64 deltas for each of the sessions, as the recorder spells them out. */
function batch(): StoredEvent[] {
  const events: StoredEvent[] = [];
  const at = new Date().toISOString();
  for (let t = 0; t < 64; t++) {
    for (let s = 0; s < SESSIONS; s++) {
      const seq = (seqs.get(s) ?? 0) + 1;
      seqs.set(s, seq);
      const run = `0b5c5204-686d-4e9c-8beb-18830000${String(s).padStart(4, '0')}`;
      events.push(new LoggedEvent(nextId++, `session-${s}-0000-0000-000000000000`, seq, run, 'content', `{"text":"<t:${(performance.timeOrigin + performance.now()).toFixed(3)}>","iteration":1,"run_id":"${run}"}`, at));
    }
  }
  if (batchNo++ % 3 === 2) {
    for (let s = 0; s < SESSIONS; s++) {
      const seq = (seqs.get(s) ?? 0) + 1;
      seqs.set(s, seq);
      const answer = Array.from({ length: 200 }, () => `<t:${(performance.timeOrigin + performance.now()).toFixed(3)}>`).join('');
      events.push(new LoggedEvent(nextId++, `session-${s}-0000-0000-000000000000`, seq, 'r', 'done', JSON.stringify({ message: 'Task completed', content: answer, run_id: 'r' }), at));
    }
  }
  return events;
}
let batchNo = 0;
function jsonParams(events: StoredEvent[]) {
  const rows = packRows(events);
  return [JSON.stringify(rows.map((r) => [r.id, r.sessionId, r.seq, r.runId, r.type, r.data, r.createdAt])), events.at(-1)!.id];
}
function splitParams(events: StoredEvent[]) {
  const rows = packRows(events);
  const c: string[][] = [[], [], [], [], [], [], []];
  for (const r of rows) { c[0]!.push(String(r.id)); c[1]!.push(r.sessionId); c[2]!.push(String(r.seq)); c[3]!.push(r.runId ?? ''); c[4]!.push(r.type); c[5]!.push(r.data); c[6]!.push(r.createdAt); }
  return [c[0]!.join(','), c[1]!.join('\x1f'), c[2]!.join(','), ...c.slice(3).map((x) => x.join('\x1f')), events.at(-1)!.id];
}
const ticks = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return Number(f[11]) + Number(f[12]); };
const client = new pg.Client({ connectionString: url });
await client.connect();
const pid = (await client.query('select pg_backend_pid() as p')).rows[0].p;
const BATCHES = 150;
for (const round of [1, 2]) {
  for (const [label, text, params, compression] of [
    ['jsonb + pglz (before)', JSON_WRITE, jsonParams, 'pglz'],
    ['jsonb + lz4', JSON_WRITE, jsonParams, 'lz4'],
    ['split + pglz', SPLIT_WRITE, splitParams, 'pglz'],
    ['split + lz4 (after)', SPLIT_WRITE, splitParams, 'lz4'],
  ] as const) {
    await client.query(`alter table events alter column data set compression ${compression}`);
    const name = `w_${label.replace(/\W/g, '')}_${round}`;
    const before = ticks(pid);
    let clientMs = 0;
    for (let b = 0; b < BATCHES; b++) {
      const events = batch();
      const t0 = performance.now();
      const values = params(events);
      clientMs += performance.now() - t0;
      await client.query({ name, text, values });
    }
    const tokens = BATCHES * 64 * SESSIONS;
    console.log(`round ${round}  ${label.padEnd(22)} backend ${(((ticks(pid) - before) * 10) / (tokens / 1000)).toFixed(2)} ms/1k tokens   params built in ${((clientMs) / (tokens / 1000)).toFixed(3)} ms/1k tokens`);
  }
}
await client.end();
await admin.query('drop database td_wb with (force)');
await admin.end();
