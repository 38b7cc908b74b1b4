import type { EventBus } from './bus.js';
import type { StoredEvent } from './types.js';

/**
 * The order in which the write-behind log publishes (write-behind.ts): the events numbered but
 * not yet published, and who may see what. A session's subscribers get its events in cursor order,
 * so an event of a session that waits (for its write, or behind one that does) holds back only
 * that session. Global subscribers (the Service API stream) resume by id, so they get events in
 * id order: one published to its session while a lower id of another session still waits is
 * held for them until that one is published.
 */
export class PublicationOrder {
  /** Numbered but not yet published, by id; a Map iterates in insertion order, which is id order. */
  private readonly waiting = new Map<number, StoredEvent>();
  /** How many of each session's events wait. */
  private readonly waitingPerSession = new Map<string, number>();
  /** Published to their sessions, not yet to global subscribers; in id order. */
  private heldFromAll: StoredEvent[] = [];

  constructor(private readonly bus: EventBus) {}

  get anyWaiting(): boolean {
    return this.waiting.size > 0;
  }

  /** Whether an event of the session waits: its later events must wait behind it. */
  waits(sessionId: string): boolean {
    return this.waitingPerSession.has(sessionId);
  }

  /** The first waiting event (of the session, or of any). */
  firstWaiting(sessionId?: string): StoredEvent | undefined {
    if (this.waiting.size === 0) return undefined;
    if (sessionId === undefined) return this.waiting.values().next().value;
    if (!this.waits(sessionId)) return undefined;
    for (const event of this.waiting.values()) if (event.sessionId === sessionId) return event;
    return undefined;
  }

  /** A numbered event that is not published now. Events are held in the order they are numbered. */
  hold(event: StoredEvent): void {
    this.waiting.set(event.id, event);
    this.waitingPerSession.set(event.sessionId, (this.waitingPerSession.get(event.sessionId) ?? 0) + 1);
  }

  /** A held event is about to be published, or will never be (its write failed). */
  unhold(event: StoredEvent): void {
    if (!this.waiting.delete(event.id)) return;
    const left = this.waitingPerSession.get(event.sessionId)! - 1;
    if (left === 0) this.waitingPerSession.delete(event.sessionId);
    else this.waitingPerSession.set(event.sessionId, left);
  }

  /**
   * Publishes events (in id order, none of them held) to their sessions now, and to global
   * subscribers once no lower id waits. With no global subscriber nothing is held: one that
   * subscribes later reads what came before from the log once everything is written
   * (EventLog.listForUserAfter).
   */
  publish(events: StoredEvent[]): void {
    this.bus.publishToSessions(events);
    const held = this.heldFromAll;
    if (held.length === 0 && (this.waiting.size === 0 || events.at(-1)!.id < this.lowestWaitingId())) {
      this.bus.publishToAll(events);
      return;
    }
    if (!this.bus.hasGlobalSubscribers()) return;
    if (held.length === 0 || held.at(-1)!.id < events[0]!.id) for (const event of events) held.push(event);
    else this.heldFromAll = mergeById(held, events);
    this.releaseToAll();
  }

  /** Global subscribers get the held events below the lowest id still waiting (after an unhold with no publication). */
  releaseToAll(): void {
    const held = this.heldFromAll;
    if (held.length === 0) return;
    const floor = this.waiting.size === 0 ? Infinity : this.lowestWaitingId();
    let count = 0;
    while (count < held.length && held[count]!.id < floor) count++;
    if (count === 0) return;
    this.heldFromAll = count === held.length ? [] : held.slice(count);
    this.bus.publishToAll(count === held.length ? held : held.slice(0, count));
  }

  private lowestWaitingId(): number {
    return this.waiting.keys().next().value ?? Infinity;
  }
}

/** Two lists of events each in id order, as one. */
function mergeById(a: StoredEvent[], b: StoredEvent[]): StoredEvent[] {
  const merged: StoredEvent[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) merged.push(a[i]!.id < b[j]!.id ? a[i++]! : b[j++]!);
  return merged.concat(a.slice(i), b.slice(j));
}
