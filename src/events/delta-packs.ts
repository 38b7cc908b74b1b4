import { COMPACTABLE_TYPES, type LogEventType, LoggedEvent, type StoredEvent } from './types.js';

/**
 * Token deltas of one session written in one batch share a row (a "pack"): one index entry and
 * one row per session per batch instead of one per token, which is most of what a busy log
 * writes. A pack holds consecutive deltas of one run and one type, so its cursors are contiguous:
 *
 * - `seq` is the pack's LAST cursor: a session read `seq > after` finds the pack that holds
 *   `after + 1` even when the pack started before it;
 * - `id` is the pack's FIRST global id: its other ids interleave with other sessions' rows, all
 *   within MAX_PACK_ID_SPAN of it, so a read of the global order `id > after` also looks that far
 *   back for packs that started before its cursor (see userPage);
 * - `type` is the deltas' own type, so compaction by type takes packs whole;
 * - `created_at` is the pack's last event's time;
 * - `data` is PACK_MARK, then the text every event's JSON starts with (the head), HEAD_END, the
 *   text every one ends with (the tail), and one line per event: `<id> <ms> <middle>`, `id` the
 *   event's id less the row's, `ms` the milliseconds from the event's time back to the row's
 *   `created_at`, and `middle` the JSON between head and tail. The reader puts head and tail back.
 *   A run's deltas share `{"text":"` and `","iteration":1,"run_id":"…"}`, so a line is the token
 *   and a few digits: a third of the whole JSON for word-sized tokens. A single event's data is
 *   its JSON object ('{'), and JSON.stringify never emits a raw newline or control character, so
 *   the lines split cleanly without parsing any JSON, and HEAD_END cannot occur in a head.
 *
 * Rows of earlier formats are still read: SUFFIX_PACK_MARK (lines `<id> <ms> <json>`, each JSON
 * less its `,"run_id":"<the row's run_id>"}`) and OLD_PACK_MARK (lines `<id> <created_at> <json>`).
 *
 * A run's answer is announced twice, by its last `message_completed` and by `done` (both carry it
 * whole, and the two are appended together): written in one batch, they share a row marked
 * ANSWER_MARK that holds the answer once. Its first line is the `message_completed` line as in a
 * pack; its second, `<id> <from> <length> <json>`, is the `done` line with the answer's JSON
 * string replaced by ANSWER_PLACE, to be read back from the first line's JSON at [from, from +
 * length). The row's type is `done` (never compacted), its `seq` the done's and its `id` the
 * message_completed's, as in a pack.
 */
export const MAX_EVENTS_PER_PACK = 64;
export const MAX_PACK_ID_SPAN = 2048;
const PACK_MARK = '%';
const HEAD_END = '\x01';
const SUFFIX_PACK_MARK = '$';
const OLD_PACK_MARK = '#';
const ANSWER_MARK = '&';
/** Stands for the answer in a `done` line: JSON.stringify never emits a raw control character. */
const ANSWER_PLACE = '\x01';
/** The first characters of every row that holds several events: the stores' SQL finds those rows by them. */
export const MULTI_EVENT_MARKS_SQL = `('${OLD_PACK_MARK}', '${SUFFIX_PACK_MARK}', '${PACK_MARK}', '${ANSWER_MARK}')`;
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

/** What a run's event JSON ends with and its answer row's lines leave out; nothing for events of no run. */
const runIdSuffix = (runId: string | null): string => (runId === null ? '' : `,"run_id":${JSON.stringify(runId)}}`);

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
  let tail = pack.tail;
  if (head.length + tail.length > pack.shortest) {
    let start = head.length + tail.length - pack.shortest;
    if (isLowSurrogate(tail.charCodeAt(start))) start++;
    tail = tail.slice(start);
  }
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
  const suffix = runIdSuffix(done.runId);
  const completedTime = canonicalTime(completed.createdAt);
  const doneTime = canonicalTime(done.createdAt);
  if (!Number.isFinite(completedTime) || !Number.isFinite(doneTime) || !completed.json.endsWith(suffix) || !done.json.endsWith(suffix)) return null;
  const shared = JSON.stringify(answer);
  const from = completed.json.indexOf(shared);
  const at = done.json.indexOf(shared);
  if (from < 0 || at < 0) return null;
  const first = `${ANSWER_MARK}${completed.id} ${doneTime - completedTime} ${completed.json.slice(0, completed.json.length - suffix.length)}`;
  const second = `${done.id} ${from} ${shared.length} ${done.json.slice(0, at)}${ANSWER_PLACE}${done.json.slice(at + shared.length, done.json.length - suffix.length)}`;
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

/** A row as the stores read it back, in column order. */
export type StoredRow = readonly [id: number, sessionId: string, seq: number, runId: string | null, type: string, data: string, createdAt: string];

/** Appends the events a stored row holds to `out`, in cursor order. */
function expandRow([id, sessionId, seq, runId, type, data, createdAt]: StoredRow, out: StoredEvent[]): void {
  const mark = data[0];
  if (mark === ANSWER_MARK) return expandAnswerRow(id, sessionId, seq, runId, data, createdAt, out);
  if (mark === PACK_MARK) return expandPack(id, sessionId, seq, runId, type as LogEventType, data, createdAt, out);
  if (mark !== SUFFIX_PACK_MARK && mark !== OLD_PACK_MARK) {
    out.push(new LoggedEvent(id, sessionId, seq, runId, type as LogEventType, data, createdAt));
    return;
  }
  const lines = data.slice(1).split('\n');
  let eventSeq = seq - lines.length + 1;
  const suffix = mark === SUFFIX_PACK_MARK ? runIdSuffix(runId) : '';
  const rowTime = mark === SUFFIX_PACK_MARK ? Date.parse(createdAt) : 0;
  let offset = '0';
  let eventTime = createdAt;
  for (const line of lines) {
    const idEnd = line.indexOf(' ');
    const timeEnd = line.indexOf(' ', idEnd + 1);
    const time = line.slice(idEnd + 1, timeEnd);
    if (mark === OLD_PACK_MARK) eventTime = time;
    else if (time !== offset) eventTime = new Date(rowTime - Number((offset = time))).toISOString();
    const json = line.slice(timeEnd + 1);
    out.push(new LoggedEvent(Number(line.slice(0, idEnd)), sessionId, eventSeq++, runId, type as LogEventType, suffix ? json + suffix : json, eventTime));
  }
}

/** The events of a PACK_MARK row. */
function expandPack(id: number, sessionId: string, seq: number, runId: string | null, type: LogEventType, data: string, createdAt: string, out: StoredEvent[]): void {
  const headerEnd = data.indexOf('\n');
  const headEnd = data.indexOf(HEAD_END);
  const head = data.slice(1, headEnd);
  const tail = data.slice(headEnd + 1, headerEnd);
  const lines = data.slice(headerEnd + 1).split('\n');
  const rowTime = Date.parse(createdAt);
  let eventSeq = seq - lines.length + 1;
  let offset = '0';
  let eventTime = createdAt;
  for (const line of lines) {
    const idEnd = line.indexOf(' ');
    const timeEnd = line.indexOf(' ', idEnd + 1);
    const time = line.slice(idEnd + 1, timeEnd);
    if (time !== offset) eventTime = new Date(rowTime - Number((offset = time))).toISOString();
    out.push(new LoggedEvent(id + Number(line.slice(0, idEnd)), sessionId, eventSeq++, runId, type, head + line.slice(timeEnd + 1) + tail, eventTime));
  }
}

/** The first `count` space-separated fields of `line`, then the rest of it (a JSON text, which may hold spaces). */
function headFields(line: string, count: number): string[] {
  const fields: string[] = [];
  let start = 0;
  for (let field = 0; field < count; field++) {
    const end = line.indexOf(' ', start);
    fields.push(line.slice(start, end));
    start = end + 1;
  }
  fields.push(line.slice(start));
  return fields;
}

/** The `message_completed` and `done` of an ANSWER_MARK row. */
function expandAnswerRow(id: number, sessionId: string, seq: number, runId: string | null, data: string, createdAt: string, out: StoredEvent[]): void {
  const suffix = runIdSuffix(runId);
  const lineEnd = data.indexOf('\n');
  const [, offset, completedJson] = headFields(data.slice(1, lineEnd), 2) as [string, string, string];
  const completedAt = new Date(Date.parse(createdAt) - Number(offset)).toISOString();
  out.push(new LoggedEvent(id, sessionId, seq - 1, runId, 'message_completed', completedJson + suffix, completedAt));
  const [doneId, from, length, doneJson] = headFields(data.slice(lineEnd + 1), 3) as [string, string, string, string];
  const place = doneJson.indexOf(ANSWER_PLACE);
  const answer = completedJson.slice(Number(from), Number(from) + Number(length));
  out.push(new LoggedEvent(Number(doneId), sessionId, seq, runId, 'done', doneJson.slice(0, place) + answer + doneJson.slice(place + 1) + suffix, createdAt));
}

/** One query's worth of events, and whether the log has nothing after them. */
export interface EventPage {
  events: StoredEvent[];
  exhausted: boolean;
}

/**
 * Rows to query at a time for a page of `limit` events: a pack holds up to MAX_EVENTS_PER_PACK,
 * so a page of packs stays a few thousand events; a page of single events takes a few queries.
 */
export const rowsPerQuery = (limit: number): number => Math.max(1, Math.ceil(limit / 4));

/**
 * Reads pages until at least `limit` events (or the end of the log): fewer than `limit` events
 * means nothing more is stored after them, as the replay loop expects.
 */
export async function collectEvents(after: number, limit: number, cursorOf: (event: StoredEvent) => number, readPage: (after: number) => Promise<EventPage>): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for (;;) {
    const { events, exhausted } = await readPage(after);
    for (const event of events) out.push(event);
    if (exhausted || events.length === 0 || out.length >= limit) return out;
    after = cursorOf(events.at(-1)!);
  }
}

/** The session's events after `afterSeq` from rows `seq > afterSeq` in seq order (at most `rowLimit` of them). */
export function sessionPage(rows: StoredRow[], afterSeq: number, rowLimit: number): EventPage {
  const expanded: StoredEvent[] = [];
  for (const row of rows) expandRow(row, expanded);
  return { events: afterSeq > 0 ? expanded.filter((event) => event.seq > afterSeq) : expanded, exhausted: rows.length < rowLimit };
}

/**
 * The user's events after global id `afterId`, in id order, from `rows` (`id > afterId` in id
 * order, at most `rowLimit`) and `packsBefore` (packs with `afterId - MAX_PACK_ID_SPAN < id <= afterId`,
 * which may hold later ids). When the page is full, rows not read yet start above the last row's
 * first id, so every event up to that id is here: the page stops there, and the rest of the packs
 * read comes again with the next page.
 */
export function userPage(rows: StoredRow[], packsBefore: StoredRow[], afterId: number, rowLimit: number): EventPage {
  const expanded: StoredEvent[] = [];
  for (const row of packsBefore) expandRow(row, expanded);
  for (const row of rows) expandRow(row, expanded);
  const exhausted = rows.length < rowLimit;
  const bound = exhausted ? Number.POSITIVE_INFINITY : rows.at(-1)![0];
  const events = expanded.filter((event) => event.id > afterId && event.id <= bound);
  events.sort((a, b) => a.id - b.id);
  return { events, exhausted };
}
