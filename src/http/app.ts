import cors from '@fastify/cors';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { notFound, rateLimited, unauthorized } from '../core/errors.js';
import { hostOfHeader, isLoopbackHost } from '../core/loopback.js';
import type { App, HttpContext } from './context.js';
import { handleClientError } from './client-errors.js';
import { sendError } from './error-handler.js';
import { openApiOptions } from './openapi.js';
import { requireIdentity, resolveIdentity } from './request-auth.js';
import { ticketOf } from './stream-auth.js';
import { refuseNulCharacters } from './nul-guard.js';
import { authRoutes } from './routes/auth.js';
import { filesRoutes } from './routes/files.js';
import { hitlRoutes } from './routes/hitl.js';
import { mcpRoutes } from './routes/mcp.js';
import { serviceApiRoutes } from './routes/service-api.js';
import { chatRoutes } from './routes/chat.js';
import { sessionStreamRoutes } from './routes/session-stream.js';
import { sessionsRoutes } from './routes/sessions.js';
import { workspacesRoutes } from './routes/workspaces.js';
import { websocketPluginOptions, websocketRoutes } from './routes/ws.js';
import { mcpEndpointRoutes } from './routes/mcp-endpoint.js';
import { webRoutes } from './routes/web.js';
import { acceptsLocalUser, matchesEveryPath, normalizedPath, surfaceOf, surfaceOfPath } from './surface.js';

const REQUEST_ID = /^[\w.:-]{1,128}$/;
/** Longer than any id the schemas accept (200), so an over-long id is a validation error, not a router one. */
const MAX_PARAM_LENGTH = 512;

export async function buildApp(context: HttpContext, logger: FastifyBaseLogger): Promise<App> {
  const { config } = context;
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: config.limits.body_max_bytes,
    trustProxy: config.server.trust_proxy,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Slow or idle clients are closed; an established SSE response is not a request being received, so it is exempt.
    requestTimeout: config.server.request_timeout_s * 1000,
    keepAliveTimeout: config.server.keep_alive_timeout_s * 1000,
    // Node checks these timeouts on an interval (30 s by default): once a second keeps them close to their value.
    http: { headersTimeout: Math.min(config.server.headers_timeout_s, config.server.request_timeout_s) * 1000, connectionsCheckingInterval: 1000 },
    clientErrorHandler: handleClientError,
    frameworkErrors: (error, request, reply) => {
      // The router failed (bad percent-encoding, over-long parameter): no route, so classify by path.
      request.surface = surfaceOfPath(normalizedPath(request.raw.url ?? ''));
      sendError(request as FastifyRequest, reply as FastifyReply, error);
    },
  }).withTypeProvider<import('fastify-type-provider-zod').ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
  app.setNotFoundHandler((request, reply) => sendError(request, reply, notFound(`Route ${request.method} ${request.url.split('?')[0]}`)));

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    await resolveIdentity(request, context.auth);
    // Local mode is decided by the route that will answer, never by how the path was spelled.
    if (!request.identity && !request.identityError && context.localMode && acceptsLocalUser(surfaceOf(request))) {
      // Local mode trusts this machine, not any web page: a DNS-rebound name must not reach it without a token.
      if (config.server.insecure || isLoopbackHost(hostOfHeader(request.headers.host))) request.identity = { userId: context.localUserId };
      else request.identityError = 'Requests without a token must address the server by a loopback name (localhost, 127.0.0.1, [::1])';
    }
  });
  await app.register(cors, {
    origin: config.server.cors_origins.length > 0 ? config.server.cors_origins : false,
    credentials: false,
    exposedHeaders: ['x-request-id', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'mcp-session-id'],
    allowedHeaders: ['authorization', 'content-type', 'last-event-id', 'x-request-id', 'mcp-session-id', 'mcp-protocol-version'],
    maxAge: 600,
    // The strict check answers an OPTIONS without Origin in text/plain, outside every error convention.
    strictPreflight: false,
  });

  await app.register(swagger, openApiOptions(context.version));
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.addHook('onResponse', async (request, reply) => {
    context.metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  app.get('/metrics', { schema: { hide: true }, config: { rateLimit: false } }, async (_request, reply) =>
    reply.type(context.metrics.registry.contentType).send(await context.metrics.registry.metrics()),
  );
  app.get('/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, async () => app.swagger());

  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: config.limits.requests_per_minute,
    timeWindow: 60_000,
    ...(context.redis ? { redis: context.redis, nameSpace: 'tokendance:rl:' } : {}),
    keyGenerator: (request) => (request.identity ? `user:${request.identity.userId}` : `ip:${request.ip}`),
    errorResponseBuilder: (_request, limit) =>
      rateLimited(`Rate limit exceeded: ${limit.max} requests per minute; retry in ${limit.after}`, Math.ceil(limit.ttl / 1000)),
  });
  await app.register(multipart, {
    limits: { fileSize: config.limits.upload_max_bytes, files: 1, fields: 10, fieldSize: 64 * 1024 },
  });
  await app.register(websocket, websocketPluginOptions);

  // Authentication is checked before validation so an anonymous caller learns nothing about input rules.
  app.addHook('preValidation', async (request) => {
    // Unknown routes are 404s with or without credentials.
    if (request.is404 || matchesEveryPath(request)) return;
    if (ticketOf(request) !== undefined && !request.routeOptions.config?.streamTicket) {
      throw unauthorized('Stream tickets are accepted only on SSE endpoints');
    }
    // Docs, the OpenAPI document and the web page are public; every API route is not unless it says so.
    if (surfaceOf(request) !== 'other' && !request.routeOptions.config?.public) requireIdentity(request);
    refuseNulCharacters(request);
  });

  await app.register(
    async (v1) => {
      await authRoutes(v1 as App, context);
      await workspacesRoutes(v1 as App, context);
      await sessionsRoutes(v1 as App, context);
      await filesRoutes(v1 as App, context);
      await chatRoutes(v1 as App, context);
      await sessionStreamRoutes(v1 as App, context);
      await hitlRoutes(v1 as App, context);
      await websocketRoutes(v1 as App, context);
      await mcpRoutes(v1 as App, context);
    },
    { prefix: '/api/v1' },
  );
  await app.register(async (service) => serviceApiRoutes(service as App, context), { prefix: '/api' });
  await app.register(async (mcp) => mcpEndpointRoutes(mcp as App, context));
  await app.register(async (web) => webRoutes(web));

  return app as unknown as App;
}
