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
 * ANSWER_MARK that holds the answer once. Its first line is `<id> <ms> <json>`, the whole
 * `message_completed`; its second, `<id> <from> <length> <json>`, is the `done` with the answer's JSON
 * string replaced by ANSWER_PLACE, to be read back from the first line's JSON at [from, from +
 * length). The row's type is `done` (never compacted), its `seq` the done's and its `id` the
 * message_completed's, as in a pack.
 */
export const MAX_EVENTS_PER_PACK = 64;
export const MAX_PACK_ID_SPAN = 2048;
export const PACK_MARK = '%';
/** Ends a pack's head: JSON.stringify never emits a raw control character, so no head holds it. */
export const HEAD_END = '\x01';
export const SUFFIX_PACK_MARK = '$';
export const OLD_PACK_MARK = '#';
export const ANSWER_MARK = '&';
/** Stands for the answer in a `done` line, for the same reason. */
export const ANSWER_PLACE = '\x01';
/** The first characters of every row that holds several events: the stores' SQL finds those rows by them. */
export const MULTI_EVENT_MARKS_SQL = `('${OLD_PACK_MARK}', '${SUFFIX_PACK_MARK}', '${PACK_MARK}', '${ANSWER_MARK}')`;

/** What a run's event JSON ends with, left out of the lines of `$` packs; nothing for events of no run. */
export const runIdSuffix = (runId: string | null): string => (runId === null ? '' : `,"run_id":${JSON.stringify(runId)}}`);
