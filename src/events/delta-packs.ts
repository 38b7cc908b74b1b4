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
 * - `data` is PACK_MARK, then one line per event: `<id> <ms> <json>`, `ms` the milliseconds from
 *   the event's time back to the row's `created_at`. In a pack of a run, every event's JSON ends
 *   with `,"run_id":"<the row's run_id>"}` (the recorder puts it last), and the line leaves that
 *   out: the reader adds it back. That and the time halve what a token costs to store. A single
 *   event's data is its JSON object ('{'), and JSON.stringify never emits a raw newline, so the
 *   lines split cleanly without parsing any JSON.
 *
 * Rows marked OLD_PACK_MARK (lines `<id> <created_at> <json>`, whole) are read as before.
 */
export const MAX_EVENTS_PER_PACK = 64;
export const MAX_PACK_ID_SPAN = 2048;
/** A pack's data starts with one of them (the stores' SQL tests `substr(data, 1, 1) in ('#', '$')`). */
const PACK_MARK = '$';
const OLD_PACK_MARK = '#';
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

/** What a run's event JSON ends with and its pack lines leave out; nothing for events of no run. */
const runIdSuffix = (runId: string | null): string => (runId === null ? '' : `,"run_id":${JSON.stringify(runId)}}`);

/** The event's time in ms when it can be written as an offset and read back as the same text, else NaN. */
function canonicalTime(createdAt: string): number {
  const ms = Date.parse(createdAt);
  return Number.isFinite(ms) && new Date(ms).toISOString() === createdAt ? ms : Number.NaN;
}

function packed(events: StoredEvent[], times: number[], suffix: string): LogRow {
  if (events.length === 1) return single(events[0]!);
  const first = events[0]!;
  const last = events.at(-1)!;
  const lastTime = times.at(-1)!;
  // One flat string from parts: `+=` would build a rope that the writer flattens again.
  const lines = new Array<string>(events.length);
  const eventIds = new Array<number>(events.length);
  for (let index = 0; index < events.length; index++) {
    const event = events[index]!;
    const json = suffix ? event.json.slice(0, event.json.length - suffix.length) : event.json;
    lines[index] = `${event.id} ${lastTime - times[index]!} ${json}`;
    eventIds[index] = event.id;
  }
  // The mark joins the first line, not the joined text: `PACK_MARK + text` would be a rope again.
  lines[0] = PACK_MARK + lines[0]!;
  return { id: first.id, sessionId: first.sessionId, seq: last.seq, runId: first.runId, type: first.type, data: lines.join('\n'), createdAt: last.createdAt, eventIds };
}

interface OpenPack {
  events: StoredEvent[];
  times: number[];
  suffix: string;
}

/**
 * The rows for a batch of events in cursor order: each session's consecutive deltas packed, rows
 * in id order. Called once per batch, so its loops are indexed (see unwritten-batches.ts); a
 * run's suffix is made once per pack, since a busy batch alternates between runs at every event.
 */
export function packRows(events: StoredEvent[]): LogRow[] {
  const rows: LogRow[] = [];
  const open = new Map<string, OpenPack>();
  let timeText = '';
  let time = Number.NaN;
  for (let index = 0; index < events.length; index++) {
    const event = events[index]!;
    const pack = open.get(event.sessionId);
    if (!PACKABLE.has(event.type)) {
      if (pack) rows.push(packed(pack.events, pack.times, pack.suffix));
      open.delete(event.sessionId);
      rows.push(single(event));
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
        pack.events.length < MAX_EVENTS_PER_PACK &&
        event.json.endsWith(pack.suffix);
      if (fits) {
        pack.events.push(event);
        pack.times.push(time);
        continue;
      }
      rows.push(packed(pack.events, pack.times, pack.suffix));
      open.delete(event.sessionId);
    }
    const suffix = runIdSuffix(event.runId);
    if (Number.isFinite(time) && event.json.endsWith(suffix)) open.set(event.sessionId, { events: [event], times: [time], suffix });
    else rows.push(single(event));
  }
  for (const pack of open.values()) rows.push(packed(pack.events, pack.times, pack.suffix));
  return rows.sort((a, b) => a.id - b.id);
}

/** A row as the stores read it back, in column order. */
export type StoredRow = readonly [id: number, sessionId: string, seq: number, runId: string | null, type: string, data: string, createdAt: string];

/** Appends the events a stored row holds to `out`, in cursor order. */
function expandRow([id, sessionId, seq, runId, type, data, createdAt]: StoredRow, out: StoredEvent[]): void {
  const mark = data[0];
  if (mark !== PACK_MARK && mark !== OLD_PACK_MARK) {
    out.push(new LoggedEvent(id, sessionId, seq, runId, type as LogEventType, data, createdAt));
    return;
  }
  const lines = data.slice(1).split('\n');
  let eventSeq = seq - lines.length + 1;
  const suffix = mark === PACK_MARK ? runIdSuffix(runId) : '';
  const rowTime = mark === PACK_MARK ? Date.parse(createdAt) : 0;
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
