import type { StoredEvent } from './types.js';

export type EventListener = (event: StoredEvent) => void;

/**
 * Fan-out of logged events to live subscribers, in cursor order. An event is published once the
 * log can read it back (EventLog.listAfter waits for that), so a subscriber that also reads the
 * log never sees a gap; what may be published before it is durable is the appender's to say
 * (write-behind.ts, group-commit.ts).
 */
export interface EventBus {
  publish(events: StoredEvent[]): void;
  subscribeSession(sessionId: string, listener: EventListener): () => void;
  subscribeAll(listener: EventListener): () => void;
}

export class LocalEventBus implements EventBus {
  private readonly bySession = new Map<string, Set<EventListener>>();
  private readonly global = new Set<EventListener>();

  /** `onListenerError` hears a listener's exception; the appender that publishes must not. */
  constructor(private readonly onListenerError: (error: unknown) => void = () => {}) {}

  publish(events: StoredEvent[]): void {
    for (const event of events) {
      const listeners = this.bySession.get(event.sessionId);
      if (listeners) for (const listener of listeners) this.call(listener, event);
      for (const listener of this.global) this.call(listener, event);
    }
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

  subscribeAll(listener: EventListener): () => void {
    this.global.add(listener);
    return () => this.global.delete(listener);
  }
}
