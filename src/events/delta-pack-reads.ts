import { ANSWER_MARK, ANSWER_PLACE, HEAD_END, OLD_PACK_MARK, PACK_MARK, runIdSuffix, SUFFIX_PACK_MARK } from './delta-pack-format.js';
import { type LogEventType, LoggedEvent, type StoredEvent } from './types.js';

/** Reading rows back as events, in pages (the formats: delta-pack-format.ts). */

/** A row as the stores read it back, in column order. */
export type StoredRow = readonly [id: number, sessionId: string, seq: number, runId: string | null, type: string, data: string, createdAt: string];

/** Appends the events a stored row holds to `out`, in cursor order. */
function expandRow(row: StoredRow, out: StoredEvent[]): void {
  const [id, sessionId, seq, runId, type, data, createdAt] = row;
  const mark = data[0];
  if (mark === ANSWER_MARK) return expandAnswerRow(row, out);
  if (mark === PACK_MARK) {
    const headerEnd = data.indexOf('\n');
    const headEnd = data.indexOf(HEAD_END);
    return expandLines(row, data.slice(headerEnd + 1), { idBase: id, head: data.slice(1, headEnd), tail: data.slice(headEnd + 1, headerEnd), isoTimes: false }, out);
  }
  if (mark === SUFFIX_PACK_MARK) return expandLines(row, data.slice(1), { idBase: 0, head: '', tail: runIdSuffix(runId), isoTimes: false }, out);
  if (mark === OLD_PACK_MARK) return expandLines(row, data.slice(1), { idBase: 0, head: '', tail: '', isoTimes: true }, out);
  out.push(new LoggedEvent(id, sessionId, seq, runId, type as LogEventType, data, createdAt));
}

/**
 * The events of a pack's lines (`<id> <time> <json>`): each id is `idBase` plus the line's, each
 * JSON `head + the line's + tail`, and each time the line's ISO time or ms back from the row's.
 */
function expandLines(
  [, sessionId, seq, runId, type, , createdAt]: StoredRow,
  text: string,
  format: { idBase: number; head: string; tail: string; isoTimes: boolean },
  out: StoredEvent[],
): void {
  const lines = text.split('\n');
  const rowTime = Date.parse(createdAt);
  let eventSeq = seq - lines.length + 1;
  let offset = '0';
  let eventTime = createdAt;
  for (const line of lines) {
    const idEnd = line.indexOf(' ');
    const timeEnd = line.indexOf(' ', idEnd + 1);
    const time = line.slice(idEnd + 1, timeEnd);
    if (format.isoTimes) eventTime = time;
    else if (time !== offset) eventTime = new Date(rowTime - Number((offset = time))).toISOString();
    const json = format.head + line.slice(timeEnd + 1) + format.tail;
    out.push(new LoggedEvent(format.idBase + Number(line.slice(0, idEnd)), sessionId, eventSeq++, runId, type as LogEventType, json, eventTime));
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
function expandAnswerRow([id, sessionId, seq, runId, , data, createdAt]: StoredRow, out: StoredEvent[]): void {
  const lineEnd = data.indexOf('\n');
  const [, offset, completedJson] = headFields(data.slice(1, lineEnd), 2) as [string, string, string];
  const completedAt = new Date(Date.parse(createdAt) - Number(offset)).toISOString();
  out.push(new LoggedEvent(id, sessionId, seq - 1, runId, 'message_completed', completedJson, completedAt));
  const [doneId, from, length, doneJson] = headFields(data.slice(lineEnd + 1), 3) as [string, string, string, string];
  const place = doneJson.indexOf(ANSWER_PLACE);
  const answer = completedJson.slice(Number(from), Number(from) + Number(length));
  out.push(new LoggedEvent(Number(doneId), sessionId, seq, runId, 'done', doneJson.slice(0, place) + answer + doneJson.slice(place + 1), createdAt));
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
