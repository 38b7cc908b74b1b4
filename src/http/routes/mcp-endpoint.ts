import type { FastifyReply, FastifyRequest } from 'fastify';
import type { McpServerDeps } from '../../mcp/server/deps.js';
import type { McpHttpSessions } from '../../mcp/server/http-transport.js';
import type { App, HttpContext } from '../context.js';
import { errorBodyFor } from '../error-handler.js';
import { requireIdentity } from '../request-auth.js';

/** An MCP session unused this long (with no open request or stream) is closed. */
const SESSION_IDLE_MS = 30 * 60_000;
const SESSIONS_PER_USER = 16;
const PROGRESS_INTERVAL_MS = 250;

/**
 * TokenDance as an MCP server: `/mcp` speaks Streamable HTTP (stateful sessions; POST for
 * messages, GET for the server's stream, DELETE to end a session) through the official SDK.
 * Auth and local mode are those of the app (the `mcp` surface); refusals before the SDK takes
 * over carry the TokenDance error body.
 */
export async function mcpEndpointRoutes(app: App, context: HttpContext): Promise<void> {
  const deps: McpServerDeps = {
    version: context.version,
    runs: context.runs,
    sessions: context.sessions,
    approvals: context.approvals,
    log: context.streams.log,
    bus: context.streams.bus,
    directories: context.directories,
    defaultWorkspaceOf: async (userId) => (await context.store.workspaces.defaultFor(userId))?.id,
    progressIntervalMs: PROGRESS_INTERVAL_MS,
    heartbeatMs: context.config.events.heartbeat_s * 1000,
    warn: (fields, message) => app.log.warn(fields, message),
  };
  // The MCP SDK is loaded with the first request to /mcp: a server nobody uses as MCP spares its memory.
  let sessions: McpHttpSessions | undefined;
  let loading: Promise<McpHttpSessions> | undefined;
  const loadSessions = () =>
    (loading ??= (async () => {
      const [{ McpHttpSessions }, { createTokenDanceMcpServer }] = await Promise.all([
        import('../../mcp/server/http-transport.js'),
        import('../../mcp/server/tokendance-mcp-server.js'),
      ]);
      return (sessions = new McpHttpSessions({
        createServer: (caller) => createTokenDanceMcpServer(deps, caller),
        idleMs: SESSION_IDLE_MS,
        maxSessionsPerUser: SESSIONS_PER_USER,
        keepAliveMs: context.config.events.heartbeat_s * 1000,
        warn: (fields, message) => app.log.warn(fields, message),
      }));
    })());
  // Open MCP streams would hold the server open: end them as shutdown begins.
  app.addHook('preClose', async () => sessions?.closeAll());

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const { userId } = requireIdentity(request);
    const sessions = await loadSessions();
    const header = request.headers['mcp-session-id'];
    const exchange = sessions.open(userId, typeof header === 'string' ? header : undefined, request.method, request.body);
    // The GET stream is long-lived: it counts against the user's concurrent-stream limit like every SSE route.
    const release = request.method === 'GET' ? await context.sseSlots.acquire(userId) : undefined;
    reply.hijack();
    // A hijacked reply writes its own head: carry over what hooks set (X-Request-Id, CORS, rate-limit headers).
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value !== undefined) reply.raw.setHeader(name, value);
    }
    if (release) reply.raw.once('close', release);
    try {
      await exchange.handle(request.raw, reply.raw, request.body);
    } catch (error) {
      request.log.error({ err: error }, 'MCP request failed');
      if (reply.raw.headersSent) return void reply.raw.destroy();
      const body = errorBodyFor('mcp', { status: 500, code: 'INTERNAL_ERROR', detail: 'Internal server error' }, request.id);
      reply.raw.writeHead(500, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
    }
  };
  for (const method of ['POST', 'GET', 'DELETE'] as const) {
    app.route({ method, url: '/mcp', schema: { hide: true }, handler });
  }
}

