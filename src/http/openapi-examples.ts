/**
 * Examples for media types that have none, assembled from the examples of what they are made of:
 * `{items: [Session], total}` gets the Session component's example and a count, the Service API
 * envelope wraps its data's example. A string without an example, const, enum or default leaves
 * the whole example out rather than inventing a meaningless "string".
 */

type Json = Record<string, unknown>;

const REF_PREFIX = '#/components/schemas/';
const EXAMPLE_TIME = '2026-01-15T09:30:00.000Z';

export function exampleOf(schema: unknown, components: Record<string, Json>, depth = 0): unknown {
  if (!schema || typeof schema !== 'object' || depth > 10) return undefined;
  const node = schema as Json;
  if (Array.isArray(node.examples) && node.examples.length > 0) return node.examples[0];
  if (node.example !== undefined) return node.example;
  if (typeof node.$ref === 'string') return exampleOf(components[node.$ref.slice(REF_PREFIX.length)], components, depth + 1);
  if (node.const !== undefined) return node.const;
  if (Array.isArray(node.enum) && node.enum.length > 0) return node.enum[0];
  if (node.default !== undefined) return node.default;

  const branches = (node.anyOf ?? node.oneOf) as unknown[] | undefined;
  if (Array.isArray(branches)) {
    for (const branch of branches) {
      if ((branch as Json).type === 'null') continue;
      const example = exampleOf(branch, components, depth + 1);
      if (example !== undefined) return example;
    }
    // `null` stands in for a nullable scalar; a nullable object without an example is better left without one.
    const scalar = (branch: Json) => ['string', 'number', 'integer', 'boolean', 'null'].includes(branch.type as string);
    return (branches as Json[]).every(scalar) ? null : undefined;
  }

  const types = Array.isArray(node.type) ? (node.type as string[]) : [node.type as string];
  if (types.includes('object') || node.properties) {
    const result: Json = {};
    const required = new Set((node.required as string[] | undefined) ?? []);
    for (const [name, property] of Object.entries((node.properties as Record<string, unknown> | undefined) ?? {})) {
      const example = exampleOf(property, components, depth + 1);
      if (example !== undefined) result[name] = example;
      else if (required.has(name)) return undefined;
    }
    return result;
  }
  if (types.includes('array')) {
    const item = exampleOf(node.items, components, depth + 1);
    return item === undefined ? [] : [item];
  }
  if (types.includes('null')) return null;
  if (types.includes('boolean')) return true;
  if (types.includes('integer') || types.includes('number')) {
    const minimum = node.minimum;
    return typeof minimum === 'number' && minimum >= 0 && minimum <= 1_000_000 ? minimum : 1;
  }
  if (types.includes('string') && node.format === 'date-time') return EXAMPLE_TIME;
  return undefined;
}

/** Fills `example` on every request and response media type that lacks one and can be given one. */
export function addExamples(paths: Json, components: Record<string, Json>): void {
  for (const item of Object.values(paths) as Json[]) {
    for (const operation of Object.values(item) as Json[]) {
      const bodies = [operation.requestBody, ...Object.values((operation.responses as Json | undefined) ?? {})] as Array<Json | undefined>;
      for (const body of bodies) {
        for (const media of Object.values((body?.content as Record<string, Json> | undefined) ?? {})) {
          if (media.example !== undefined || media.examples !== undefined) continue;
          const example = exampleOf(media.schema, components);
          if (example !== undefined) media.example = example;
        }
      }
    }
  }
}
