import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { addExamples } from './openapi-examples.js';
import { documentRoute } from './openapi-route.js';

/**
 * The OpenAPI document at /openapi.json: generated from the routes' zod schemas, each route
 * completed by `documentRoute`, the whole tidied by `finishDocument`. test/openapi.test.ts lints
 * it with Redocly's recommended rules.
 */

/** Every tag a route may use; a tag without a description here fails the lint. */
const TAGS = [
  { name: 'auth', description: 'Accounts, login, token refresh and logout, stream tickets' },
  { name: 'workspaces', description: 'Workspaces group sessions and their members' },
  { name: 'sessions', description: 'Sessions: a conversation with the agent, its messages and artifacts' },
  { name: 'files', description: 'Uploads to attach to chat messages' },
  { name: 'chat', description: 'Send a message (the answer is the run as SSE), stop a run, read the working memory' },
  { name: 'stream', description: 'Replayable SSE stream of every event of a session' },
  { name: 'hitl', description: 'Human approval of risky tool calls' },
  { name: 'mcp', description: 'MCP servers and their tools' },
  { name: 'service-api', description: 'Service API (seed 002): run prompts as tasks, one stream of every event; no token needed on loopback in local mode' },
];

export function openApiOptions(version: string): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'TokenDance API',
        version,
        description:
          'Self-hosted agent server: the TokenDance API (`/api/v1`, bearer tokens) and the Service API (`/api`). ' +
          'Errors under `/api/v1` are `{detail, error_code, timestamp, request_id}`; under `/api` the envelope `{success: false, data: null, error}`.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: '/', description: 'This server' }],
      tags: TAGS,
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Access token from /api/v1/auth/login or /register' },
          ticket: {
            type: 'apiKey',
            in: 'query',
            name: 'ticket',
            description: 'Single-use stream ticket from POST /api/v1/auth/stream-ticket, for EventSource, which cannot send headers',
          },
        },
      },
    },
    transform: documentRoute,
    transformObject: finishDocument,
  };
}

type Json = Record<string, unknown>;

/**
 * Components come from every zod schema registered with an id, in an input and an output variant
 * (`SessionInput`, `Session`); keep the ones the paths use, one copy where both are identical, and
 * give each media type an example.
 */
function finishDocument(input: Parameters<typeof jsonSchemaTransformObject>[0]): Json {
  const document = jsonSchemaTransformObject(input) as Json & { paths?: Json; components?: { schemas?: Record<string, Json> } };
  // zod marks each component with `$schema` and a fragment `$id`, which confuse validators resolving `$ref`s between components.
  const schemas = Object.fromEntries(
    Object.entries(document.components?.schemas ?? {}).map(([name, { $schema: _schema, $id: _id, ...schema }]) => [name, schema]),
  );

  const sameAs = new Map<string, string>();
  for (const name of Object.keys(schemas)) {
    const output = name.endsWith('Input') ? name.slice(0, -'Input'.length) : undefined;
    if (output && schemas[output] && JSON.stringify(schemas[output]) === JSON.stringify(schemas[name])) sameAs.set(name, output);
  }
  const rewritten = rewriteRefs({ paths: document.paths, schemas }, sameAs) as { paths: Json; schemas: Record<string, Json> };

  const used = new Set<string>();
  const visit = (node: unknown): void => {
    for (const name of refsIn(node)) {
      if (used.has(name) || !rewritten.schemas[name]) continue;
      used.add(name);
      visit(rewritten.schemas[name]);
    }
  };
  visit(rewritten.paths);
  const kept = Object.fromEntries(Object.entries(rewritten.schemas).filter(([name]) => used.has(name)));

  addExamples(rewritten.paths, kept);
  return { ...document, paths: rewritten.paths, components: { ...document.components, schemas: kept, securitySchemes: usedSecuritySchemes(document) } };
}

const REF_PREFIX = '#/components/schemas/';

/** Security schemes some operation names (`ticket` exists only for the SSE routes). */
function usedSecuritySchemes(document: Json): Record<string, unknown> {
  const defined = ((document.components as Json | undefined)?.securitySchemes ?? {}) as Record<string, unknown>;
  const named = new Set<string>();
  for (const item of Object.values((document.paths ?? {}) as Record<string, Json>)) {
    for (const operation of Object.values(item) as Json[]) {
      for (const requirement of (operation.security as Json[] | undefined) ?? []) for (const name of Object.keys(requirement)) named.add(name);
    }
  }
  return Object.fromEntries(Object.entries(defined).filter(([name]) => named.has(name)));
}

function refsIn(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) refsIn(item, found);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && value.startsWith(REF_PREFIX)) found.push(value.slice(REF_PREFIX.length));
      else refsIn(value, found);
    }
  }
  return found;
}

function rewriteRefs(node: unknown, renamed: Map<string, string>): unknown {
  if (Array.isArray(node)) return node.map((item) => rewriteRefs(item, renamed));
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => {
      if (key === '$ref' && typeof value === 'string' && value.startsWith(REF_PREFIX)) {
        const name = value.slice(REF_PREFIX.length);
        return [key, REF_PREFIX + (renamed.get(name) ?? name)];
      }
      return [key, rewriteRefs(value, renamed)];
    }),
  );
}
