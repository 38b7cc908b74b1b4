import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { notFound, rateLimited, validationError } from '../../core/errors.js';
import type { McpCaller } from './deps.js';

export interface McpHttpSessionsOptions {
  /** Builds the MCP server of one new session. */
  createServer(caller: McpCaller): McpServer;
  /** A session nobody used for this long (and with no open request or stream) is closed. */
  idleMs: number;
  maxSessionsPerUser: number;
  /** SSE keep-alive comments on open streams. */
  keepAliveMs: number;
  warn(fields: Record<string, unknown>, message: string): void;
}

interface McpHttpSession {
  id: string;
  userId: string;
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  lastSeenAt: number;
  /** Requests and streams still being answered. */
  open: number;
  closing: boolean;
}

/** One HTTP exchange the caller may hand to the SDK's transport (after taking over the response). */
export interface McpHttpExchange {
  handle(request: IncomingMessage, response: ServerResponse, body: unknown): Promise<void>;
}

const SWEEP_EVERY_MS = 60_000;

/**
 * The stateful Streamable HTTP sessions of this process, keyed by `Mcp-Session-Id`. Each is bound
 * to the user who initialized it: another user's token (or none) never reaches it, it answers 404
 * as an unknown session would. Sessions end on DELETE, after idling, or at shutdown; a user holds
 * a bounded number, the least recently used idle one making room for a new one.
 *
 * Sessions live in memory: behind a load balancer with several processes, route by the header
 * (sticky sessions).
 */
export class McpHttpSessions {
  private readonly sessions = new Map<string, McpHttpSession>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: McpHttpSessionsOptions) {
    this.sweeper = setInterval(() => this.closeIdle(), Math.min(SWEEP_EVERY_MS, options.idleMs));
    this.sweeper.unref();
  }

  /**
   * The exchange for a request, or the refusal (thrown before anything is written, so it gets
   * the API's error body): unknown or foreign session → 404, missing session id → 400.
   */
  open(userId: string, sessionId: string | undefined, method: string, body: unknown): McpHttpExchange {
    if (sessionId !== undefined) {
      const session = this.sessions.get(sessionId);
      if (!session || session.userId !== userId || session.closing) throw notFound('MCP session');
      return { handle: (request, response, parsed) => this.forward(session, request, response, parsed) };
    }
    const initializing = method === 'POST' && (Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body));
    if (!initializing) throw validationError('Mcp-Session-Id header required: send an initialize request first to open a session');
    this.makeRoomFor(userId);
    return { handle: (request, response, parsed) => this.initialize(userId, request, response, parsed) };
  }

  /** Closes every session (server shutdown); their open streams end. */
  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.values()].map((session) => this.close(session)));
  }

  get size(): number {
    return this.sessions.size;
  }

  private async initialize(userId: string, request: IncomingMessage, response: ServerResponse, body: unknown): Promise<void> {
    let session: McpHttpSession | undefined;
    const caller: McpCaller = { userId, isClosing: () => session?.closing ?? false };
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      keepAliveMs: this.options.keepAliveMs,
      onsessioninitialized: (id) => {
        session = { id, userId, transport, server, lastSeenAt: Date.now(), open: 0, closing: false };
        this.sessions.set(id, session);
      },
    });
    // Set before connect: the SDK calls it before aborting the session's in-flight tool calls.
    transport.onclose = () => {
      if (!session) return;
      session.closing = true;
      this.sessions.delete(session.id);
    };
    transport.onerror = (error) => this.options.warn({ err: error }, 'MCP transport error');
    const server = this.options.createServer(caller);
    await server.connect(transport);
    try {
      await transport.handleRequest(request, response, body);
    } finally {
      // A refused initialize (bad version, malformed) opened no session: drop its server.
      if (!session) await server.close().catch(() => {});
    }
  }

  private async forward(session: McpHttpSession, request: IncomingMessage, response: ServerResponse, body: unknown): Promise<void> {
    session.open++;
    session.lastSeenAt = Date.now();
    response.once('close', () => {
      session.open--;
      session.lastSeenAt = Date.now();
    });
    await session.transport.handleRequest(request, response, body);
  }

  private makeRoomFor(userId: string): void {
    const own = [...this.sessions.values()].filter((session) => session.userId === userId && !session.closing);
    if (own.length < this.options.maxSessionsPerUser) return;
    const idle = own.filter((session) => session.open === 0).sort((a, b) => a.lastSeenAt - b.lastSeenAt)[0];
    if (!idle) throw rateLimited(`Too many open MCP sessions (limit ${this.options.maxSessionsPerUser}); end one with DELETE /mcp`, 5);
    void this.close(idle);
  }

  private closeIdle(): void {
    const cutoff = Date.now() - this.options.idleMs;
    for (const session of this.sessions.values()) {
      if (session.open === 0 && session.lastSeenAt < cutoff) void this.close(session);
    }
  }

  private async close(session: McpHttpSession): Promise<void> {
    session.closing = true;
    this.sessions.delete(session.id);
    await session.server.close().catch((error: unknown) => this.options.warn({ err: error, mcp_session_id: session.id }, 'closing an MCP session failed'));
  }
}
