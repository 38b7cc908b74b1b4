import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import swagger from '@fastify/swagger';
import { createConfig, lintFromString, type NormalizedProblem } from '@redocly/openapi-core';
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { openApiOptions } from '../src/http/openapi.js';
import { operationIdOf } from '../src/http/openapi-route.js';
import { idParams } from '../src/schemas/common.js';
import { sessionStreamEvent } from '../src/schemas/stream-events.js';
import { startTestServer } from './support/server.js';

type Json = Record<string, any>;
type Operation = { method: string; path: string; operation: Json };

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function operationsOf(document: Json): Operation[] {
  return Object.entries(document.paths as Record<string, Json>).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({ method, path, operation: operation as Json })),
  );
}

/** Redocly's recommended ruleset; every problem (errors and warnings) is a failure. */
async function lint(document: Json): Promise<string[]> {
  const config = await createConfig({ extends: ['recommended'] });
  const problems: NormalizedProblem[] = await lintFromString({ source: JSON.stringify(document), absoluteRef: 'openapi.json', config });
  return problems.map((problem) => `${problem.severity} ${problem.ruleId}: ${problem.message} at ${problem.location[0]?.pointer ?? '?'}`);
}

const mediaExample = (content: Json | undefined) => Object.values(content ?? {}).find((media: Json) => media.example !== undefined)?.example;

describe('OpenAPI document of a running server', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let document: Json;

  before(async () => {
    server = await startTestServer();
    const response = await fetch(`${server.url}/openapi.json`);
    assert.equal(response.status, 200);
    document = (await response.json()) as Json;
  });
  after(() => server.shutdown());

  test('lints clean with the Redocly recommended ruleset (no errors, no warnings)', async () => {
    const problems = await lint(document);
    assert.deepEqual(problems, [], `OpenAPI lint problems:\n${problems.join('\n')}`);
  });

  test('every operation has a unique operationId derived from method and path, a summary and tags', () => {
    const operations = operationsOf(document);
    assert.ok(operations.length >= 25, `only ${operations.length} operations documented`);
    const ids = new Set<string>();
    for (const { method, path, operation } of operations) {
      assert.equal(typeof operation.operationId, 'string', `${method} ${path} has no operationId`);
      assert.ok(!ids.has(operation.operationId), `duplicate operationId ${operation.operationId}`);
      ids.add(operation.operationId);
      assert.ok(operation.summary, `${method} ${path} has no summary`);
      assert.ok(operation.tags?.length, `${method} ${path} has no tag`);
      assert.ok(Array.isArray(operation.security), `${method} ${path} does not say how it is authenticated`);
    }
    assert.ok(ids.has('postAuthRegister') && ids.has('getSessionsByIdStream') && ids.has('getServiceHealth'));
    assert.equal(operationIdOf('GET', '/api/v1/sessions/:id/messages'), 'getSessionsByIdMessages');
    assert.equal(operationIdOf('POST', '/api/execute'), 'postServiceExecute');
    assert.equal(operationIdOf('POST', '/api/v1/auth/stream-ticket'), 'postAuthStreamTicket');
  });

  test('every operation documents its 4xx and 5xx answers with the shared error body of its surface', () => {
    for (const { method, path, operation } of operationsOf(document)) {
      const statuses = Object.keys(operation.responses);
      assert.ok(statuses.some((status) => status.startsWith('4')), `${method} ${path}: no 4xx`);
      assert.ok(statuses.includes('500'), `${method} ${path}: no 500`);
      const errorSchema = path.startsWith('/api/v1/') ? '#/components/schemas/Error' : '#/components/schemas/ServiceError';
      for (const status of statuses.filter((status) => Number(status) >= 400)) {
        const response = operation.responses[status];
        assert.ok(response.description && response.description !== 'Default Response', `${method} ${path} ${status}: no description`);
        assert.equal(response.content?.['application/json']?.schema?.$ref, errorSchema, `${method} ${path} ${status}: not the shared error body`);
        assert.ok(response.content['application/json'].example, `${method} ${path} ${status}: no example`);
      }
      if (operation.security.length > 0) assert.ok(statuses.includes('401'), `${method} ${path}: authenticated but no 401`);
      if (path.includes('{')) assert.ok(statuses.includes('404'), `${method} ${path}: has an id but no 404`);
    }
    assert.deepEqual(Object.keys(document.paths['/api/health'].get.responses).sort(), ['200', '400', '500'], 'health is anonymous and exempt from rate limits');
    assert.ok(document.paths['/api/v1/sessions'].get.responses['429'].headers['Retry-After']);
  });

  test('the SSE routes are text/event-stream with the Last-Event-ID header and their event schemas', () => {
    const sse = [
      ['post', '/api/v1/chat/{id}/message', 'SessionStreamEvent'],
      ['get', '/api/v1/sessions/{id}/stream', 'SessionStreamEvent'],
      ['get', '/api/stream', 'ServiceStreamEvent'],
    ] as const;
    for (const [method, path, component] of sse) {
      const operation = document.paths[path][method];
      const media = operation.responses['200'].content['text/event-stream'];
      assert.equal(media.schema.$ref, `#/components/schemas/${component}`, `${method} ${path}`);
      assert.ok(media.example, `${method} ${path}: no frame example`);
      const header = operation.parameters.find((parameter: Json) => parameter.in === 'header' && parameter.name === 'Last-Event-ID');
      assert.ok(header?.description, `${method} ${path}: no Last-Event-ID header parameter`);
      assert.equal(header.required, false);
    }
    const events = document.components.schemas.SessionStreamEvent.anyOf.map((frame: Json) => frame.properties.event.const ?? frame.properties.event.enum?.[0]);
    for (const name of ['thinking', 'tool_call', 'tool_result', 'content', 'confirm_required', 'done', 'error', 'status', 'reset']) assert.ok(events.includes(name), `event ${name} is not documented`);
    const types = document.components.schemas.ServiceStreamEvent.anyOf.map((frame: Json) => frame.properties.type.const ?? frame.properties.type.enum?.[0]);
    for (const type of ['task_started', 'assistant_message_delta', 'tool_call_completed', 'stream_error', 'task_completed']) assert.ok(types.includes(type), `type ${type} is not documented`);
    // The ticket is a security scheme for EventSource, not an undocumented query parameter.
    assert.deepEqual(document.paths['/api/v1/sessions/{id}/stream'].get.security, [{ bearer: [] }, { ticket: [] }]);
    assert.equal(document.components.securitySchemes.ticket.in, 'query');
  });

  test('request and response examples on the main routes, and each documented request example is accepted by the server', async () => {
    const withRequestExample = ['postAuthRegister', 'postAuthLogin', 'postAuthRefresh', 'postSessions', 'patchSessionsById', 'postWorkspaces', 'postChatByIdMessage', 'postServiceExecute'];
    const withResponseExample = [
      'postAuthRegister',
      'getAuthMe',
      'getWorkspaces',
      'postSessions',
      'getSessions',
      'getSessionsById',
      'getSessionsByIdMessages',
      'getSessionsByIdArtifacts',
      'postFiles',
      'postChatByIdStop',
      'getServiceHealth',
      'postServiceExecute',
      'getServiceStatus',
      'getServiceTasks',
      'getServiceTasksById',
    ];
    const byId = new Map(operationsOf(document).map((entry) => [entry.operation.operationId as string, entry]));
    for (const id of withRequestExample) assert.ok(mediaExample(byId.get(id)?.operation.requestBody?.content), `${id}: no request example`);
    for (const id of withResponseExample) {
      const responses = byId.get(id)?.operation.responses ?? {};
      const success = Object.keys(responses).find((status) => status.startsWith('2'));
      assert.ok(success && mediaExample(responses[success].content), `${id}: no response example`);
    }

    // The examples are real: the register example registers, the login example logs in.
    const register = await server.api('POST', '/api/v1/auth/register', { body: mediaExample(byId.get('postAuthRegister')!.operation.requestBody.content) });
    assert.equal(register.status, 201, register.text);
    const login = await server.api('POST', '/api/v1/auth/login', { body: mediaExample(byId.get('postAuthLogin')!.operation.requestBody.content) });
    assert.equal(login.status, 200, login.text);
    const execute = await server.api('POST', '/api/execute', { body: mediaExample(byId.get('postServiceExecute')!.operation.requestBody.content) });
    assert.equal(execute.status, 200, execute.text);
  });

  test('components: only the used ones, no input/output duplicates, no zod $id markers', () => {
    const schemas = document.components.schemas as Record<string, Json>;
    const serialized = Object.entries(schemas).map(([name, schema]) => [name, JSON.stringify(schema)] as const);
    for (const [name, text] of serialized) {
      assert.ok(!('$id' in schemas[name]!) && !('$schema' in schemas[name]!), `${name} carries $id/$schema`);
      const twin = serialized.find(([other, otherText]) => other !== name && otherText === text);
      assert.equal(twin, undefined, `${name} and ${twin?.[0]} are the same schema`);
    }
    assert.ok(!Object.keys(schemas).some((name) => name.endsWith('Input') && schemas[name.slice(0, -5)]), 'an Input twin is left');
  });

  test('/docs renders the reference from the same document', async () => {
    const response = await fetch(`${server.url}/docs/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
  });
});

describe('OpenAPI conventions apply to routes added later', () => {
  test('a new JSON route and a new SSE route are documented lint-clean without any OpenAPI-specific code', async () => {
    // A stand-in for a future routes file: only zod schemas, a summary and a tag, as every route has.
    const app = Fastify().withTypeProvider<ZodTypeProvider>();
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    await app.register(swagger, openApiOptions('0.0.0-test'));
    app.post(
      '/api/v1/hitl/:id/confirm',
      {
        schema: {
          tags: ['hitl'],
          summary: 'Answer an approval request',
          params: idParams,
          body: z.object({ approved: z.boolean(), user_feedback: z.string().max(2000).optional() }),
          response: { 200: z.object({ request_id: z.string(), approved: z.boolean() }) },
        },
      },
      async (request) => ({ request_id: request.params.id, approved: request.body.approved }),
    );
    app.get(
      '/api/v1/sessions/:id/replay',
      { schema: { tags: ['stream'], summary: 'A new SSE route', params: idParams, sse: { events: sessionStreamEvent, description: 'SSE frames' } } },
      async () => '',
    );
    app.get(
      '/api/v2-preview',
      { schema: { tags: ['service-api'], summary: 'A Service API route without input', response: { 200: z.object({ success: z.boolean() }) } } },
      async () => ({ success: true }),
    );
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const address = app.server.address() as { port: number };
      const document = (await fetch(`http://127.0.0.1:${address.port}/openapi.json`).then((response) => response.json())) as Json;
      const problems = await lint(document);
      assert.deepEqual(problems, [], `OpenAPI lint problems:\n${problems.join('\n')}`);
      const confirm = document.paths['/api/v1/hitl/{id}/confirm'].post;
      assert.equal(confirm.operationId, 'postHitlByIdConfirm');
      assert.deepEqual(Object.keys(confirm.responses).sort(), ['200', '400', '401', '404', '413', '429', '500']);
      assert.deepEqual(confirm.security, [{ bearer: [] }]);
      const replay = document.paths['/api/v1/sessions/{id}/replay'].get;
      assert.ok(replay.responses['200'].content['text/event-stream']);
      assert.ok(replay.parameters.some((parameter: Json) => parameter.name === 'Last-Event-ID'));
      const preview = document.paths['/api/v2-preview'].get;
      assert.deepEqual(preview.security, [{ bearer: [] }, {}], 'Service API: token, or none in local mode');
      assert.equal(preview.responses['500'].content['application/json'].schema.$ref, '#/components/schemas/ServiceError');
    } finally {
      await app.close();
    }
  });
});
