import type { EventDraft } from './event-store.js';
import type { StoredEvent } from './types.js';

/** How the log turns appended events into stored, published ones; one strategy per kind of store. */
export interface EventAppender {
  /** Written durably before it is published and before the promise resolves. */
  append(draft: EventDraft, data: Record<string, unknown>): Promise<StoredEvent>;
  /**
   * A token delta: relayed as cheaply as the store allows; a failure to store it goes to `onError`.
   * Only its JSON text exists (a projection that needs `data` parses it).
   */
  appendDelta(draft: EventDraft, onError: (error: unknown) => void): void;
  /** Resolves once every event appended so far is written and published. */
  drain(): Promise<void>;
  /** Resolves once every event published so far can be read back from the store. */
  readable(): Promise<void>;
  /** The session's events after `afterSeq` that are published but not yet written, in order. */
  publishedUnwritten(sessionId: string, afterSeq: number): StoredEvent[];
  /** The first event numbered but not yet published (of the session, or of any), if there is one. */
  firstUnpublished(sessionId?: string): StoredEvent | undefined;
}

/** The error a draft gets when its session was deleted while it waited to be written. */
export class SessionGoneError extends Error {
  constructor(sessionId: string) {
    super(`session ${sessionId} no longer exists`);
    this.name = 'SessionGoneError';
  }
}
