import type { EventBus } from './bus.js';
import type { EventLog } from './log.js';
import type { StoredEvent } from './types.js';

const PAGE = 500;
/** Live events held while the reader is busy; past this they are dropped and read back from the log. */
const MAX_HELD_EVENTS = 10_000;

/**
 * Pull-style reader of a session's events after a cursor, with no gap and no duplicate (the
 * pattern of replayThenLive, for consumers that are not an SSE stream): the live subscription
 * starts before the log is read, and events are deduplicated by their per-session cursor.
 * Memory stays bounded: a reader that falls far behind reads the overflow back from the log.
 */
export class SessionFollower {
  private last: number;
  private held: StoredEvent[] = [];
  private overflowed = false;
  /** Events read from the log and not yet handed out. */
  private page: StoredEvent[] = [];
  /** True until the log has been read up to the first live event. */
  private catchingUp = true;
  private closed = false;
  private wake: (() => void) | null = null;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly log: EventLog,
    bus: EventBus,
    private readonly sessionId: string,
    after: number,
  ) {
    this.last = after;
    this.unsubscribe = bus.subscribeSession(sessionId, (event) => {
      if (this.held.length >= MAX_HELD_EVENTS) {
        this.held = [];
        this.overflowed = true;
      }
      this.held.push(event);
      this.wake?.();
    });
  }

  /** The next event after the cursor, waiting for it if need be; undefined once closed. */
  async next(): Promise<StoredEvent | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const fromPage = this.page.shift();
      if (fromPage) {
        if (this.accept(fromPage)) return fromPage;
        continue;
      }
      if (this.catchingUp || this.overflowed) {
        await this.readLog();
        continue;
      }
      const live = this.held.shift();
      if (live) {
        if (this.accept(live)) return live;
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  /** Ends the subscription; a pending next() resolves to undefined. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.held = [];
    this.page = [];
    this.wake?.();
  }

  private accept(event: StoredEvent): boolean {
    if (event.seq <= this.last) return false;
    this.last = event.seq;
    return true;
  }

  /** One page of the log after the cursor; a short page means the live events take over. */
  private async readLog(): Promise<void> {
    this.overflowed = false;
    const page = await this.log.listAfter(this.sessionId, this.last, PAGE);
    this.page = page;
    // A full page may have more behind it; an overflow during the read is caught by the flag.
    this.catchingUp = page.length >= PAGE;
  }
}
