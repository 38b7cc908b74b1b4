import type { StoredEvent } from './types.js';

// Loops here are indexed: these run once per batch, too rarely to be optimized, and an unoptimized
// for-of allocates an iterator result per element (thousands per batch, all for the GC).

/** An event of the write-behind log from its cursor until it is written, and who waits for it. */
export interface Unwritten {
  event: StoredEvent;
  published: boolean;
  resolve?(event: StoredEvent): void;
  reject?(error: unknown): void;
  onError?(error: unknown): void;
}

/** Splits off the entries of every session that has an event waiting for its write (all of that session's entries, in order). */
export function splitBySessionsWaiting(entries: Unwritten[]): [Unwritten[], Unwritten[]] {
  const waiting = new Set<string>();
  for (let index = 0; index < entries.length; index++) if (!entries[index]!.published) waiting.add(entries[index]!.event.sessionId);
  return partitionBySessions(entries, waiting);
}

/**
 * Splits off whole sessions, in the order they first appear, until at least `max` entries are
 * taken (everything when `max` is not given or not reached).
 */
export function splitOffSessions(entries: Unwritten[], max: number | undefined): [Unwritten[], Unwritten[]] {
  if (max === undefined || entries.length <= max) return [entries, []];
  const perSession = new Map<string, number>();
  for (let index = 0; index < entries.length; index++) {
    const sessionId = entries[index]!.event.sessionId;
    perSession.set(sessionId, (perSession.get(sessionId) ?? 0) + 1);
  }
  const taken = new Set<string>();
  let count = 0;
  for (const [sessionId, entriesOfSession] of perSession) {
    if (count >= max) break;
    taken.add(sessionId);
    count += entriesOfSession;
  }
  return partitionBySessions(entries, taken);
}

/** The entries of the given sessions, and the others; both in cursor order. */
function partitionBySessions(entries: Unwritten[], sessions: Set<string>): [Unwritten[], Unwritten[]] {
  const chosen: Unwritten[] = [];
  const rest: Unwritten[] = [];
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index]!;
    (sessions.has(entry.event.sessionId) ? chosen : rest).push(entry);
  }
  return [chosen, rest];
}

/** Two lists each in cursor (id) order, as one. */
export function mergeInCursorOrder(a: Unwritten[], b: Unwritten[]): Unwritten[] {
  const merged: Unwritten[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) merged.push(a[i]!.event.id < b[j]!.event.id ? a[i++]! : b[j++]!);
  return merged.concat(a.slice(i), b.slice(j));
}
