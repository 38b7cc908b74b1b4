/**
 * The operations of an OpenAPI document as the robustness test needs them: method and path, which
 * error body the path answers with, whether it needs a token, what its path parameter names, and
 * its JSON body's fields and example.
 */

/** Which error body a path answers with: the Service API envelope under /api (not /api/v1), else the TokenDance body. */
export type Surface = 'tokendance' | 'service';

export const surfaceOfPath = (path: string): Surface => (path.startsWith('/api/') && !path.startsWith('/api/v1/') ? 'service' : 'tokendance');

export type Kind = 'workspace' | 'session' | 'approval' | 'task' | 'artifact' | 'tool';

export interface Operation {
  method: string;
  /** The OpenAPI path, `{id}` (or another parameter) included. */
  path: string;
  surface: Surface;
  /** Needs a token (or, outside /api/v1, local mode); a refused token must be a 401. */
  secured: boolean;
  /** Under /api/v1, where local mode never applies: without a token, a 401. */
  tokenOnly: boolean;
  /** What the path parameter names, if the path has one. */
  kind?: Kind;
  /** The path parameter's maxLength, if it declares one. */
  paramMaxLength?: number;
  json?: { fields: string[]; example: Record<string, unknown> };
  multipart: boolean;
  /** Answers 200 with an event stream. */
  sse: boolean;
}

type Json = Record<string, any>;

const KIND_OF_SEGMENT: Record<string, Kind> = {
  workspaces: 'workspace',
  sessions: 'session',
  chat: 'session',
  hitl: 'approval',
  approvals: 'approval',
  tasks: 'task',
  artifacts: 'artifact',
  tools: 'tool',
};

/** Logging out revokes the token the request carries: the test gives such requests a token of their own. */
export const revokesToken = (operation: Pick<Operation, 'path'>): boolean => operation.path.endsWith('/auth/logout');

export function operationsOf(document: Json): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries<Json>(document.paths)) {
    for (const [method, operation] of Object.entries<Json>(item)) {
      const segment = /\/([^/]+)\/\{[^}]+\}/.exec(path)?.[1];
      const pathParameter = (operation.parameters ?? []).find((parameter: Json) => parameter.in === 'path');
      const content = operation.requestBody?.content ?? {};
      const jsonContent = content['application/json'];
      operations.push({
        method: method.toUpperCase(),
        path,
        surface: surfaceOfPath(path),
        secured: (operation.security ?? []).length > 0,
        tokenOnly: (operation.security ?? []).length > 0 && path.startsWith('/api/v1/'),
        // A route added under a new noun still gets a real id of the caller's: its session.
        kind: segment ? (KIND_OF_SEGMENT[segment] ?? 'session') : undefined,
        paramMaxLength: pathParameter?.schema?.maxLength,
        json: jsonContent ? { fields: fieldsOf(jsonContent.schema, document), example: exampleOf(jsonContent, document) } : undefined,
        multipart: 'multipart/form-data' in content,
        sse: operation.responses?.['200']?.content?.['text/event-stream'] !== undefined,
      });
    }
  }
  return operations;
}

function fieldsOf(schema: Json | undefined, document: Json): string[] {
  const resolved = resolve(schema, document);
  if (!resolved) return [];
  if (resolved.properties) return Object.keys(resolved.properties);
  for (const option of [...(resolved.anyOf ?? []), ...(resolved.oneOf ?? [])]) {
    const fields = fieldsOf(option, document);
    if (fields.length > 0) return fields;
  }
  return [];
}

function exampleOf(media: Json, document: Json): Record<string, unknown> {
  const schema = resolve(media.schema, document);
  const example = media.example ?? (Object.values<Json>(media.examples ?? {})[0]?.value) ?? schema?.examples?.[0] ?? schema?.example;
  return example && typeof example === 'object' && !Array.isArray(example) ? { ...example } : {};
}

function resolve(schema: Json | undefined, document: Json): Json | undefined {
  if (!schema?.$ref) return schema;
  const name = String(schema.$ref).split('/').pop()!;
  return resolve(document.components?.schemas?.[name], document);
}
