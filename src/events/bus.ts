import type { StoredEvent } from './types.js';

export type EventListener = (event: StoredEvent) => void;

/**
 * Fan-out of logged events to live subscribers, in cursor order: a session's subscribers get its
 * events in `seq` order, global subscribers get every event in `id` order. An event is published
 * once the log can read it back (EventLog.listAfter waits for that), so a subscriber that also
 * reads the log never sees a gap; what may be published before it is durable is the appender's
 * to say (write-behind.ts, group-commit.ts).
 */
export interface EventBus {
  /** To both kinds of subscriber. */
  publish(events: StoredEvent[]): void;
  /**
   * To the subscribers of the events' sessions only: an appender that publishes a session's
   * events while an event of another session with a lower id still waits (write-behind.ts)
   * gives them to `publishToAll` later, in id order.
   */
  publishToSessions(events: StoredEvent[]): void;
  publishToAll(events: StoredEvent[]): void;
  hasGlobalSubscribers(): boolean;
  subscribeSession(sessionId: string, listener: EventListener): () => void;
  subscribeAll(listener: EventListener): () => void;
}

export class LocalEventBus implements EventBus {
  private readonly bySession = new Map<string, Set<EventListener>>();
  private readonly global = new Set<EventListener>();

  /** `onListenerError` hears a listener's exception; the appender that publishes must not. */
  constructor(private readonly onListenerError: (error: unknown) => void = () => {}) {}

  publish(events: StoredEvent[]): void {
    this.publishToSessions(events);
    this.publishToAll(events);
  }

  publishToSessions(events: StoredEvent[]): void {
    if (this.bySession.size === 0) return;
    for (const event of events) {
      const listeners = this.bySession.get(event.sessionId);
      if (listeners) for (const listener of listeners) this.call(listener, event);
    }
  }

  publishToAll(events: StoredEvent[]): void {
    if (this.global.size === 0) return;
    for (const event of events) for (const listener of this.global) this.call(listener, event);
  }

  private call(listener: EventListener, event: StoredEvent): void {
    try {
      listener(event);
    } catch (error) {
      this.onListenerError(error);
    }
  }

  subscribeSession(sessionId: string, listener: EventListener): () => void {
    let listeners = this.bySession.get(sessionId);
    if (!listeners) this.bySession.set(sessionId, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) this.bySession.delete(sessionId);
    };
  }

  hasGlobalSubscribers(): boolean {
    return this.global.size > 0;
  }

  subscribeAll(listener: EventListener): () => void {
    this.global.add(listener);
    return () => this.global.delete(listener);
  }
}
