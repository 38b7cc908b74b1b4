import type { z } from 'zod';

/**
 * The key structure of the config schema, read from zod's definitions: which keys an object
 * accepts, which maps take free keys (`providers`, `profiles`, `tools.policy`, `mcp.servers[*].env`)
 * and what their values look like. Used to reject unknown keys with a suggestion, and by the test
 * that keeps tokendance.example.toml complete.
 */
export type SchemaNode =
  | { kind: 'object'; shape: Record<string, z.ZodType> }
  | { kind: 'record'; value: z.ZodType }
  | { kind: 'array'; element: z.ZodType }
  | { kind: 'leaf'; type: string };

interface ZodDef {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  valueType?: z.ZodType;
  element?: z.ZodType;
}

const defOf = (schema: z.ZodType): ZodDef => (schema as unknown as { _zod: { def: ZodDef } })._zod.def;

/** Strips default/prefault/optional/nullable wrappers down to the schema that decides the shape. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (['default', 'prefault', 'optional', 'nullable'].includes(def.type) && def.innerType) current = def.innerType;
    else return current;
  }
}

export function schemaNode(schema: z.ZodType): SchemaNode {
  const def = defOf(unwrap(schema));
  if (def.type === 'object' && def.shape) return { kind: 'object', shape: def.shape };
  if (def.type === 'record' && def.valueType) return { kind: 'record', value: def.valueType };
  if (def.type === 'array' && def.element) return { kind: 'array', element: def.element };
  return { kind: 'leaf', type: def.type };
}

export interface UnknownKey {
  /** Where it was found, e.g. `server.prot` or `mcp.servers[0].comand`. */
  path: string;
  /** The closest valid name at that place (full path), when one is close enough. */
  suggestion?: string;
  /** Every valid name at that place, for when nothing is close. */
  valid: string[];
}

/** Keys of `raw` that the schema does not know, walking objects, free-key maps and lists. */
export function findUnknownKeys(raw: unknown, schema: z.ZodType, path = ''): UnknownKey[] {
  const node = schemaNode(schema);
  const found: UnknownKey[] = [];
  if (node.kind === 'object' && isPlainObject(raw)) {
    const valid = Object.keys(node.shape);
    for (const [key, value] of Object.entries(raw)) {
      const child = node.shape[key];
      if (child) found.push(...findUnknownKeys(value, child, join(path, key)));
      else {
        const near = nearestName(key, valid);
        found.push({ path: join(path, key), valid, ...(near ? { suggestion: join(path, near) } : {}) });
      }
    }
  } else if (node.kind === 'record' && isPlainObject(raw)) {
    for (const [key, value] of Object.entries(raw)) found.push(...findUnknownKeys(value, node.value, join(path, key)));
  } else if (node.kind === 'array' && Array.isArray(raw)) {
    raw.forEach((value, index) => found.push(...findUnknownKeys(value, node.element, `${path}[${index}]`)));
  }
  return found;
}

/** The candidate closest to `word` (case-insensitive, transpositions count once), if it is plausibly a typo of it. */
export function nearestName(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.ceil(word.length / 3)) ? best : undefined;
}

/** Optimal-string-alignment distance: Levenshtein plus adjacent transposition (`prot` → `port` is 1). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = value;
    }
  }
  return rows[a.length]![b.length]!;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}
