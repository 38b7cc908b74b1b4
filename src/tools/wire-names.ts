import { createHash } from 'node:crypto';

/**
 * Model APIs only accept tool names matching `^[A-Za-z0-9_-]{1,64}$`, while product names are
 * dotted (`mcp.server.tool`) and MCP tool names may hold any character at any length.
 *
 * A name made of clean segments (letters, digits, `-`, single inner `_`) maps reversibly: dots
 * become `__` (`mcp.git-hub.search_issues` → `mcp__git-hub__search_issues`). Any other name gets a
 * readable, sanitised prefix plus `_` and a SHA-256 prefix of the full name, so it is stable
 * across restarts and distinct from its look-alikes (`a b` and `a/b` do not meet). The registry
 * keeps the wire ↔ dotted tables and asks for a longer hash in the unlikely event of a clash.
 */
export const WIRE_NAME_MAX_LENGTH = 64;
export const WIRE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const SEGMENT = /^[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*$/;
const DEFAULT_HASH_LENGTH = 8;

/** The wire name of `name`: the reversible form when there is one, otherwise the hashed form with `hashLength` hex digits. */
export function wireName(name: string, hashLength = DEFAULT_HASH_LENGTH): string {
  return reversibleWireName(name) ?? hashedWireName(name, hashLength);
}

/** The dotted name a reversible wire name stands for; hashed names are resolved by the registry's tables only. */
export function fromWireName(wire: string): string {
  return wire.split('__').join('.');
}

/** `a.b` → `a__b` when every segment is clean and the result fits; undefined otherwise. */
export function reversibleWireName(name: string): string | undefined {
  const segments = name.split('.');
  if (!segments.every((segment) => SEGMENT.test(segment))) return undefined;
  const wire = segments.join('__');
  return wire.length <= WIRE_NAME_MAX_LENGTH ? wire : undefined;
}

/** Sanitised prefix + `_` + `hashLength` hex digits of SHA-256(name); always at most 64 characters. */
export function hashedWireName(name: string, hashLength = DEFAULT_HASH_LENGTH): string {
  const suffix = `_${createHash('sha256').update(name, 'utf8').digest('hex').slice(0, hashLength)}`;
  const readable = name.split('.').map(sanitizeSegment).join('__');
  return `${readable.slice(0, WIRE_NAME_MAX_LENGTH - suffix.length).replace(/_+$/, '')}${suffix}`;
}

/** Accents dropped (`café` → `cafe`), every other run of characters outside the wire alphabet becomes one `_`. */
function sanitizeSegment(segment: string): string {
  const cleaned = segment
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^A-Za-z0-9-]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return cleaned === '' ? 'x' : cleaned;
}
