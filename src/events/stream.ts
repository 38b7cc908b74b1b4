import type { EventBus } from './bus.js';
import type { EventLog } from './log.js';
import type { StoredEvent } from './types.js';

/**
 * Where a stream's frames go: an SSE response (SseWriter) or one subscription of a WebSocket.
 * `send` writes one frame (`event` null for the Service API's unnamed frames); the rest lets
 * replay wait for a slow client and stop when the client goes away.
 */
export interface StreamWriter {
  send(id: string | number, event: string | null, json: string): void;
  readonly closed: boolean;
  /** Calls `listener` once the stream closes; returns a function that forgets it. */
  onClose(listener: () => void): () => void;
  /** True when a bulk writer (replay) should wait for `drained()` before writing more. */
  readonly needsDrain: boolean;
  drained(): Promise<void>;
  end(): void;
}

export const REPLAY_PAGE_SIZE = 500;
const PAGE = REPLAY_PAGE_SIZE;
/** Live events held back while a replay is written; past this they are dropped and read from the log instead. */
const MAX_HELD_EVENTS = 10_000;
/** Replay events queued at once before the loop waits for them to be written. */
const DRAIN_CHECK_EVERY = 16;

/**
 * Replays the log after a cursor and then continues live, with no gap and no duplicate: the
 * live subscription starts before the replay query, live events are held until the replay is
 * written, and anything the replay already covered is dropped by cursor.
 *
 * Memory per connection is bounded whatever the history's size: replay reads one page at a
 * time and waits for the client to read what was written (64 KB of socket buffer) before going
 * on; live events arriving meanwhile are held only up to MAX_HELD_EVENTS references, beyond
 * which they are dropped and read back from the log, where every published event already is.
 */
export async function replayThenLive(options: {
  writer: StreamWriter;
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
  let droppedHeld = false;
  let finished = false;
  // Events are written one at a time, in order. A write that has to wait (an access check, a slow
  // client during replay) queues the ones behind it; otherwise a live event is written at once,
  // with no promise per event.
  let pending: Promise<void> | null = null;
  const finish = () => {
    finished = true;
    unsubscribe();
    writer.end();
  };
  const afterWrite = (end: boolean): Promise<void> | undefined => {
    if (end) finish();
    // While replaying, wait for the client to read rather than outrun it (live events keep the cut-off rule).
    else if (held !== null && writer.needsDrain) return writer.drained();
    return undefined;
  };
  const writeOne = (event: StoredEvent): Promise<void> | undefined => {
    if (finished || writer.closed || cursorOf(event) <= last) return undefined;
    last = cursorOf(event);
    const result = options.write(event);
    return typeof result === 'boolean' ? afterWrite(result) : result.then(afterWrite);
  };
  const track = (promise: Promise<void>) => {
    const tail: Promise<void> = promise.then(
      () => {
        if (pending === tail) pending = null;
      },
      // A write that failed (e.g. the database is down) ends the stream; the client resumes by cursor.
      () => {
        if (pending === tail) pending = null;
        if (!finished) finish();
      },
    );
    pending = tail;
  };
  const deliver = (event: StoredEvent) => {
    if (pending) return track(pending.then(() => writeOne(event)));
    let waiting: Promise<void> | undefined;
    try {
      waiting = writeOne(event);
    } catch {
      // Same as a failed asynchronous write: this stream ends, and the client resumes by cursor.
      if (!finished) finish();
      return;
    }
    if (waiting) track(waiting);
  };
  const unsubscribe = options.subscribe((event) => {
    if (!held) return deliver(event);
    if (held.length >= MAX_HELD_EVENTS) {
      held = [];
      droppedHeld = true;
    }
    held.push(event);
  });
  writer.onClose(() => {
    finished = true;
    unsubscribe();
  });

  try {
    for (;;) {
      droppedHeld = false;
      const page = await options.readPage(last);
      for (let index = 0; index < page.length; index++) {
        deliver(page[index]!);
        // Keep the queue of pending writes short; each write waits for the client when the socket is full.
        if (index % DRAIN_CHECK_EVERY === DRAIN_CHECK_EVERY - 1) await pending;
      }
      await pending;
      // A page read while held events were dropped may predate some of them: read once more.
      if (finished || (page.length < PAGE && !droppedHeld)) break;
    }
  } catch (error) {
    // A replay that cannot read the log must not leave a silent, pinging stream behind.
    if (!finished) finish();
    throw error;
  }
  const buffered = held;
  held = null;
  for (const event of buffered) deliver(event);
  await pending;
}

/**
 * A session's events caught from now on, held until a stream takes them. Caught before a run
 * starts, they hold every event of the run, so its stream needs no read of the log (the chat
 * route: one query fewer before the first token). Close it if no stream takes it.
 */
export class CaughtSessionEvents {
  private held: StoredEvent[] = [];
  private listener: ((event: StoredEvent) => void) | null = null;
  /** False once more arrived than could be held: the stream then reads the log as usual. */
  private complete = true;
  private readonly unsubscribe: () => void;

  constructor(
    bus: EventBus,
    readonly sessionId: string,
  ) {
    this.unsubscribe = bus.subscribeSession(sessionId, (event) => {
      if (this.listener) return this.listener(event);
      if (this.held.length >= MAX_HELD_EVENTS) {
        this.held = [];
        this.complete = false;
      }
      this.held.push(event);
    });
  }

  /** Whether the held events are all there is from the catch on. */
  get whole(): boolean {
    return this.complete;
  }

  /** Hands what was caught, then every later event, to `listener`; returns what stops it. */
  follow(listener: (event: StoredEvent) => void): () => void {
    this.listener = listener;
    const held = this.held;
    this.held = [];
    for (const event of held) listener(event);
    return this.unsubscribe;
  }

  close(): void {
    this.held = [];
    this.unsubscribe();
  }
}

/**
 * Session-scoped replay then live, by per-session cursor. With `caught` (caught before any event
 * after `after` existed) the replay comes from memory.
 */
export function streamSession(
  log: EventLog,
  bus: EventBus,
  writer: StreamWriter,
  sessionId: string,
  after: number,
  write: (event: StoredEvent) => boolean | Promise<boolean>,
  caught?: CaughtSessionEvents,
): Promise<void> {
  const fromMemory = caught?.whole === true;
  return replayThenLive({
    writer,
    subscribe: (listener) => (caught ? caught.follow(listener) : bus.subscribeSession(sessionId, listener)),
    readPage: (cursor) => (fromMemory ? Promise.resolve([]) : log.listAfter(sessionId, cursor, PAGE)),
    cursorOf: (event) => event.seq,
    after,
    write,
  });
}
