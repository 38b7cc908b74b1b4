import { ANSWER_MARK, ANSWER_PLACE, HEAD_END, MAX_EVENTS_PER_PACK, MAX_PACK_ID_SPAN, PACK_MARK } from './delta-pack-format.js';
import { COMPACTABLE_TYPES, type StoredEvent } from './types.js';

/** Writing the rows of a batch: token deltas in packs, a run's answer once (the formats: delta-pack-format.ts). */

/** An answer shorter than this is stored twice: sharing it would save less than it costs to read. */
const MIN_SHARED_ANSWER = 256;
const PACKABLE = new Set<string>(COMPACTABLE_TYPES);

/** One row of the `events` table as a single-writer store writes it. */
export interface LogRow {
  id: number;
  sessionId: string;
  seq: number;
  runId: string | null;
  type: string;
  data: string;
  createdAt: string;
  /** Every event id the row holds (a store reports these when the row's session is gone). */
  eventIds: number[];
}

const single = (event: StoredEvent): LogRow => ({
  id: event.id,
  sessionId: event.sessionId,
  seq: event.seq,
  runId: event.runId,
  type: event.type,
  data: event.json,
  createdAt: event.createdAt,
  eventIds: [event.id],
});

/** The event's time in ms when it can be written as an offset and read back as the same text, else NaN. */
function canonicalTime(createdAt: string): number {
  const ms = Date.parse(createdAt);
  return Number.isFinite(ms) && new Date(ms).toISOString() === createdAt ? ms : Number.NaN;
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/** How many leading characters `a` and `b` share, never ending between the halves of a surrogate pair. */
function sharedHead(a: string, b: string): number {
  const most = Math.min(a.length, b.length);
  let length = 0;
  while (length < most && a.charCodeAt(length) === b.charCodeAt(length)) length++;
  return length > 0 && isHighSurrogate(a.charCodeAt(length - 1)) ? length - 1 : length;
}

/** How many trailing characters `a` and `b` share, never starting between the halves of a surrogate pair. */
function sharedTail(a: string, b: string): number {
  const most = Math.min(a.length, b.length);
  let length = 0;
  while (length < most && a.charCodeAt(a.length - 1 - length) === b.charCodeAt(b.length - 1 - length)) length++;
  return length > 0 && isLowSurrogate(a.charCodeAt(a.length - length)) ? length - 1 : length;
}

interface OpenPack {
  events: StoredEvent[];
  times: number[];
  /** What every event's JSON so far starts with, and ends with. */
  head: string;
  tail: string;
  /** The length of the shortest JSON so far: head and tail must not overlap in it. */
  shortest: number;
}

const openPack = (event: StoredEvent, time: number): OpenPack => ({ events: [event], times: [time], head: event.json, tail: event.json, shortest: event.json.length });

function addToPack(pack: OpenPack, event: StoredEvent, time: number): void {
  const { json } = event;
  pack.events.push(event);
  pack.times.push(time);
  // Native checks per token; the character loops run only while head and tail are still shrinking.
  if (!json.startsWith(pack.head)) pack.head = pack.head.slice(0, sharedHead(pack.head, json));
  if (!json.endsWith(pack.tail)) pack.tail = pack.tail.slice(pack.tail.length - sharedTail(pack.tail, json));
  if (json.length < pack.shortest) pack.shortest = json.length;
}

function packed(pack: OpenPack): LogRow {
  const { events, times } = pack;
  if (events.length === 1) return single(events[0]!);
  const first = events[0]!;
  const last = events.at(-1)!;
  const lastTime = times.at(-1)!;
  const head = pack.head;
  // Where the two overlap in the shortest JSON, the tail gives way. It is cut where the head ends
  // in that JSON, which is never inside a surrogate pair.
  const tail = pack.tail.slice(Math.max(0, head.length + pack.tail.length - pack.shortest));
  // One flat string from parts: `+=` would build a rope that the writer flattens again.
  const lines = new Array<string>(events.length + 1);
  const eventIds = new Array<number>(events.length);
  lines[0] = PACK_MARK + head + HEAD_END + tail;
  for (let index = 0; index < events.length; index++) {
    const event = events[index]!;
    lines[index + 1] = `${event.id - first.id} ${lastTime - times[index]!} ${event.json.slice(head.length, event.json.length - tail.length)}`;
    eventIds[index] = event.id;
  }
  return { id: first.id, sessionId: first.sessionId, seq: last.seq, runId: first.runId, type: first.type, data: lines.join('\n'), createdAt: last.createdAt, eventIds };
}

/**
 * The row of a run's last `message_completed` and its `done`, holding the answer once, when the
 * two are adjacent, of one run, and carry the same long answer; else null.
 */
function answerRow(completed: StoredEvent, done: StoredEvent): LogRow | null {
  const answer = completed.data.content;
  if (typeof answer !== 'string' || answer.length < MIN_SHARED_ANSWER || done.data.content !== answer) return null;
  if (done.seq !== completed.seq + 1 || done.runId !== completed.runId || done.id - completed.id >= MAX_PACK_ID_SPAN) return null;
  const completedTime = canonicalTime(completed.createdAt);
  const doneTime = canonicalTime(done.createdAt);
  if (!Number.isFinite(completedTime) || !Number.isFinite(doneTime)) return null;
  const shared = JSON.stringify(answer);
  const from = completed.json.indexOf(shared);
  const at = done.json.indexOf(shared);
  if (from < 0 || at < 0) return null;
  const first = `${ANSWER_MARK}${completed.id} ${doneTime - completedTime} ${completed.json}`;
  const second = `${done.id} ${from} ${shared.length} ${done.json.slice(0, at)}${ANSWER_PLACE}${done.json.slice(at + shared.length)}`;
  return { id: completed.id, sessionId: done.sessionId, seq: done.seq, runId: done.runId, type: done.type, data: `${first}\n${second}`, createdAt: done.createdAt, eventIds: [completed.id, done.id] };
}

/**
 * The rows for a batch of events in cursor order: each session's consecutive deltas packed, rows
 * in id order. Called once per batch, so its loops are indexed (see unwritten-batches.ts).
 */
export function packRows(events: StoredEvent[]): LogRow[] {
  const rows: LogRow[] = [];
  const open = new Map<string, OpenPack>();
  /** Each session's last `message_completed` written alone, and its place in `rows`. */
  const completed = new Map<string, { event: StoredEvent; index: number }>();
  let timeText = '';
  let time = Number.NaN;
  for (let index = 0; index < events.length; index++) {
    const event = events[index]!;
    const pack = open.get(event.sessionId);
    if (!PACKABLE.has(event.type)) {
      if (pack) rows.push(packed(pack));
      open.delete(event.sessionId);
      const answered = event.type === 'done' ? completed.get(event.sessionId) : undefined;
      const pair = answered && answerRow(answered.event, event);
      if (pair) rows[answered.index] = pair;
      else rows.push(single(event));
      if (event.type === 'message_completed') completed.set(event.sessionId, { event, index: rows.length - 1 });
      continue;
    }
    if (event.createdAt !== timeText) time = canonicalTime((timeText = event.createdAt));
    if (pack) {
      const first = pack.events[0]!;
      const previous = pack.events.at(-1)!;
      const fits =
        Number.isFinite(time) &&
        event.type === first.type &&
        event.runId === first.runId &&
        event.seq === previous.seq + 1 &&
        event.id - first.id < MAX_PACK_ID_SPAN &&
        pack.events.length < MAX_EVENTS_PER_PACK;
      if (fits) {
        addToPack(pack, event, time);
        continue;
      }
      rows.push(packed(pack));
      open.delete(event.sessionId);
    }
    if (Number.isFinite(time)) open.set(event.sessionId, openPack(event, time));
    else rows.push(single(event));
  }
  for (const pack of open.values()) rows.push(packed(pack));
  return rows.sort((a, b) => a.id - b.id);
}

