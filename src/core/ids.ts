import { randomUUID } from 'node:crypto';

export const newId = (): string => randomUUID();

/** ISO-8601 UTC with milliseconds: fixed width, so it also sorts correctly as text. */
export const isoNow = (): string => new Date().toISOString();
export const isoAfter = (seconds: number, from: number = Date.now()): string => new Date(from + seconds * 1000).toISOString();
