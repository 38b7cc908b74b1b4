import { randomUUID } from 'node:crypto';

export const newId = (): string => randomUUID();

let formattedAt = 0;
let formatted = '';

/**
 * ISO-8601 UTC with milliseconds: fixed width, so it also sorts correctly as text. Formatted
 * once per millisecond: every relayed token is stamped, many within the same millisecond.
 */
export const isoNow = (): string => {
  const now = Date.now();
  if (now !== formattedAt) {
    formattedAt = now;
    formatted = new Date(now).toISOString();
  }
  return formatted;
};
export const isoAfter = (seconds: number, from: number = Date.now()): string => new Date(from + seconds * 1000).toISOString();
