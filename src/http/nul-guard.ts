import type { FastifyRequest } from 'fastify';
import { validationError } from '../core/errors.js';

const MAX_DEPTH = 64;

/**
 * NUL characters are refused in every parameter, query value and JSON string (keys included):
 * PostgreSQL cannot store them in text, and no identifier or prose needs them. Refusing them in
 * one place gives the same 400 on both databases instead of a 500 on one.
 */
export function refuseNulCharacters(request: FastifyRequest): void {
  for (const [part, value] of [
    ['path', request.params],
    ['query', request.query],
    ['body', request.body],
  ] as const) {
    const field = findNulField(value, part);
    if (field) throw validationError(`${field} must not contain NUL characters`, [{ field, message: 'must not contain NUL (\\u0000) characters' }]);
  }
}

/** The path of the first string or key in `value` that contains NUL, if any (also used for WebSocket frames). */
export function findNulField(value: unknown, path: string, depth = 0): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH || Buffer.isBuffer(value)) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const itemPath = `${path}.${key}`;
    if (key.includes('\u0000')) return itemPath;
    const found = findNulField(item, itemPath, depth + 1);
    if (found) return found;
  }
  return undefined;
}
