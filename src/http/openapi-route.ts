import type { SwaggerTransform } from '@fastify/swagger';
import type { FastifySchema } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { errorBody, serviceErrorBody } from '../schemas/common.js';
import { surfaceOfPath } from './surface.js';

/**
 * Documents one route for /openapi.json on top of the zod-derived schemas, so that no route author
 * has to remember the conventions: an operationId from method and path, security by API surface,
 * every error status the route can answer with the surface's error body and an example. Answers
 * and bodies that are not JSON are declared with documentation-only keys: `sse`, `download`, `upload`.
 */

export interface SseDoc {
  /** The zod schema of one frame (a union of the event kinds). */
  events: z.ZodType;
  description: string;
}

declare module 'fastify' {
  interface FastifySchema {
    /** Documentation only: the route answers 200 with an SSE stream of these frames, resumable by Last-Event-ID. */
    sse?: SseDoc;
    /** Documentation only: the route answers 200 with a file (any media type); this describes it. */
    download?: string;
    /** Documentation only: the request is multipart/form-data with the file in this form field. */
    upload?: string;
  }
}

type JsonSchema = Record<string, unknown>;
type TransformInput = Parameters<SwaggerTransform>[0];

/** The error body of the route's surface as JSON Schema, and which surface it is (for its example). */
interface SurfaceErrors {
  schema: JsonSchema;
  service: boolean;
  /** What a 400 from this route says, e.g. `Invalid body: …`. */
  invalid: string;
}

const ERRORS: Record<number, { code: string; description: string; detail: string }> = {
  400: { code: 'VALIDATION_ERROR', description: 'Invalid input: body, query, path or header fails validation, malformed JSON or HTTP', detail: 'Malformed HTTP request' },
  401: { code: 'UNAUTHORIZED', description: 'No, invalid, expired or revoked token', detail: 'Authentication required' },
  403: { code: 'FORBIDDEN', description: 'Authenticated, but the resource belongs to a workspace you are not a member of', detail: 'You do not have access to this resource' },
  404: { code: 'NOT_FOUND', description: 'The resource does not exist or is not visible to you', detail: 'Resource not found' },
  409: { code: 'CONFLICT', description: 'State conflict (a run is already active, already answered, email taken)', detail: 'The request conflicts with the current state' },
  413: { code: 'PAYLOAD_TOO_LARGE', description: 'Body or upload over the configured limit', detail: 'Request body is too large' },
  429: { code: 'RATE_LIMITED', description: 'Over a rate limit or the concurrent-stream limit; `Retry-After` says when to retry', detail: 'Rate limit exceeded: 100 requests per minute; retry in 1 minute' },
  500: { code: 'INTERNAL_ERROR', description: 'Unexpected failure; no internals are disclosed', detail: 'Internal server error' },
  503: { code: 'UNAVAILABLE', description: 'A dependency (database, model provider) is unavailable', detail: 'A dependency is unavailable' },
};

const SUCCESS: Record<number, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No content' };

const ERROR_HEADERS: Record<number, JsonSchema> = {
  429: { 'Retry-After': { type: 'integer', description: 'Seconds to wait before retrying' } },
};

export const documentRoute: SwaggerTransform = (input) => {
  const { route } = input;
  const schema = input.schema as FastifySchema | undefined;
  const url = input.url;
  const surface = surfaceOfPath(url);
  // Routes outside the APIs without a schema (the web page, static files) are not part of the reference.
  if (!schema && surface === 'other') return { schema: { hide: true }, url };
  const { sse, download, upload, ...routeSchema } = schema ?? {};
  const transformed = jsonSchemaTransform({ ...input, schema: routeSchema } as TransformInput);
  const doc = transformed.schema as FastifySchema & { response?: Record<string, JsonSchema>; hide?: boolean };
  if (doc.hide) return transformed;

  const method = (Array.isArray(route.method) ? route.method[0] : route.method) ?? 'GET';
  doc.operationId ??= operationIdOf(method, url);
  doc.security ??= surface === 'service' ? [{ bearer: [] }, {}] : [{ bearer: [] }];
  const anonymousOnly = doc.security.length === 0;

  const invalid = routeSchema.body
    ? 'Invalid body: a field is missing or has the wrong type'
    : routeSchema.querystring
      ? 'Invalid querystring: a parameter is out of range'
      : routeSchema.params
        ? 'Invalid params: id: Too big: expected string to have <=200 characters'
        : ERRORS[400]!.detail;
  const errors: SurfaceErrors = { schema: jsonOf(surface === 'service' ? serviceErrorBody : errorBody, input), service: surface === 'service', invalid };
  const response: Record<string, JsonSchema> = {};
  for (const [status, value] of Object.entries(doc.response ?? {})) response[status] = documentResponse(Number(status), value, errors);
  if (sse) {
    // The schema (and example) is one frame as an object; on the wire it is `id: …\nevent: …\ndata: <JSON>\n\n`.
    response['200'] = { description: sse.description, content: { 'text/event-stream': { schema: jsonOf(sse.events, input) } } };
    const headers = (doc.headers ?? { type: 'object' }) as JsonSchema & { properties?: JsonSchema };
    doc.headers = {
      ...headers,
      properties: {
        ...headers.properties,
        'Last-Event-ID': { type: 'string', pattern: '^[0-9]+$', description: 'Resume after this cursor: every later event is replayed, then live events follow' },
      },
    };
  }
  if (download) {
    response['200'] = {
      description: download,
      headers: { 'Content-Disposition': { type: 'string', description: 'attachment; filename*=UTF-8\'\'<name>' } },
      content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
    };
  }
  if (upload) {
    doc.body = {
      content: {
        'multipart/form-data': {
          schema: { type: 'object', required: [upload], properties: { [upload]: { type: 'string', format: 'binary' } } },
        },
      },
    };
  }
  // Any request can be malformed (Node's parser answers 400), so every operation documents 400.
  const expected = [
    400,
    !anonymousOnly && 401,
    url.includes(':') && 404,
    (routeSchema.body !== undefined || upload !== undefined) && 413,
    route.config?.rateLimit !== false && 429,
    500,
  ].filter((status): status is number => typeof status === 'number');
  for (const status of expected) response[String(status)] ??= documentResponse(status, errors.schema, errors);
  doc.response = response;
  return { schema: doc, url: transformed.url };
};

/** `GET /api/v1/sessions/:id/messages` → `getSessionsByIdMessages`; the Service API's get a `service` prefix. */
export function operationIdOf(method: string, url: string): string {
  const surface = surfaceOfPath(url);
  const path = surface === 'v1' ? url.slice('/api/v1'.length) : surface === 'service' ? `/service${url.slice('/api'.length)}` : url;
  const words = path
    .split('/')
    .filter(Boolean)
    .map((segment) => (segment.startsWith(':') ? `by-${segment.slice(1)}` : segment))
    .flatMap((segment) => segment.split(/[^A-Za-z0-9]+/))
    .filter(Boolean);
  return method.toLowerCase() + words.map((word) => word[0]!.toUpperCase() + word.slice(1)).join('');
}

function documentResponse(status: number, schema: JsonSchema | undefined, errors: SurfaceErrors): JsonSchema {
  if (status >= 400) {
    const error = ERRORS[status] ?? { code: 'ERROR', description: 'Error', detail: 'Error' };
    const body = schema ?? errors.schema;
    // A route may declare its own error body; only the surface's shared one gets the generated example.
    const shared = body.$ref !== undefined && body.$ref === errors.schema.$ref;
    const detail = status === 400 ? errors.invalid : error.detail;
    const example = errors.service
      ? { success: false, data: null, error: detail }
      : { detail, error_code: error.code, timestamp: '2026-01-15T00:00:00.000Z', request_id: '3f6c1d2e-9a8b-4c7d-8e5f-0a1b2c3d4e5f' };
    return {
      description: errors.service ? error.description : `${error.description} (${error.code})`,
      ...(ERROR_HEADERS[status] ? { headers: ERROR_HEADERS[status] } : {}),
      content: { 'application/json': { schema: body, ...(shared ? { example } : {}) } },
    };
  }
  if (!schema || schema.type === 'null') return { type: 'null', description: SUCCESS[status] ?? 'No content' };
  const description = typeof schema.description === 'string' ? schema.description : (SUCCESS[status] ?? 'Success');
  return { description, content: { 'application/json': { schema } } };
}

/** A zod schema as the JSON Schema the rest of the document uses (registered schemas become $refs). */
function jsonOf(schema: z.ZodType, input: TransformInput): JsonSchema {
  const { schema: converted } = jsonSchemaTransform({ ...input, schema: { response: { 200: schema } } } as TransformInput);
  return (converted as { response: Record<string, JsonSchema> }).response['200']!;
}
