import type { EventBus } from './bus.js';
import type { EventLog } from './log.js';
import type { SseWriter } from './sse-writer.js';
import type { StoredEvent } from './types.js';

export const REPLAY_PAGE_SIZE = 500;
const PAGE = REPLAY_PAGE_SIZE;

/**
 * Replays the log after a cursor and then continues live, with no gap and no duplicate: the
 * live subscription starts before the replay query, live events are held until the replay is
 * written, and anything the replay already covered is dropped by cursor.
 */
export async function replayThenLive(options: {
  writer: SseWriter;
  subscribe: (listener: (event: StoredEvent) => void) => () => void;
  readPage: (after: number) => Promise<StoredEvent[]>;
  cursorOf: (event: StoredEvent) => number;
  after: number;
  /** Writes one event; returns true when the stream should end after it. */
  write: (event: StoredEvent) => boolean | Promise<boolean>;
}): Promise<void> {
  const { writer, cursorOf } = options;
  let last = options.after;
  let held: StoredEvent[] | null = [];
  let finished = false;
  // Events are written one at a time, in order, even if writing has to wait (e.g. an access check).
  let chain = Promise.resolve();
  const finish = () => {
    finished = true;
    unsubscribe();
    writer.end();
  };
  const deliver = (event: StoredEvent) => {
    chain = chain.then(async () => {
      if (finished || writer.closed || cursorOf(event) <= last) return;
      last = cursorOf(event);
      if (await options.write(event)) finish();
    });
  };
  const unsubscribe = options.subscribe((event) => (held ? held.push(event) : deliver(event)));
  writer.onClose(() => {
    finished = true;
    unsubscribe();
  });

  for (;;) {
    const page = await options.readPage(last);
    for (const event of page) deliver(event);
    await chain;
    if (finished || page.length < PAGE) break;
  }
  const buffered = held;
  held = null;
  for (const event of buffered) deliver(event);
  await chain;
}

/** Session-scoped replay then live, by per-session cursor. */
export function streamSession(
  log: EventLog,
  bus: EventBus,
  writer: SseWriter,
  sessionId: string,
  after: number,
  write: (event: StoredEvent) => boolean | Promise<boolean>,
): Promise<void> {
  return replayThenLive({
    writer,
    subscribe: (listener) => bus.subscribeSession(sessionId, listener),
    readPage: (cursor) => log.listAfter(sessionId, cursor, PAGE),
    cursorOf: (event) => event.seq,
    after,
    write,
  });
}
