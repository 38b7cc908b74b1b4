import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { backoffDelay, type BackoffPolicy } from '../agent/providers/backoff.js';
import type { McpServerConfig } from '../config/schema.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { ToolResult } from '../tools/types.js';
import type { ToolArguments } from './json-schema-args.js';
import { createMcpTool, type McpTool, type McpToolCaller, type McpToolDefinition, sameDefinition } from './mcp-tool.js';
import { mapCallToolResult } from './result-mapping.js';
import { type McpTransportKind, type OpenedTransport, openTransport, transportKindOf } from './transport.js';

export type McpServerStatus = 'connected' | 'connecting' | 'failed' | 'disabled';

export interface McpServerState {
  name: string;
  transport: McpTransportKind;
  status: McpServerStatus;
  /** Why the last attempt failed or the connection was lost. */
  error?: string;
  /** Dotted names of the server's registered tools. */
  tools: string[];
}

export interface McpLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface McpConnectionDeps {
  registry: ToolRegistry;
  /** The TokenDance server's environment, read only for `${env:NAME}` references. */
  env: NodeJS.ProcessEnv;
  logger: McpLogger;
  clientVersion: string;
  backoff?: BackoffPolicy;
}

/** Reconnection delays: about 1 s doubling to about a minute (with jitter). */
export const MCP_RECONNECT_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 60_000, random: Math.random };

/** A Streamable HTTP server is pinged this often: nothing else notices that it went away or lost our session. */
const HTTP_HEALTH_CHECK_MS = 15_000;
/** Limits against a server that lists absurdly many tools or pages. */
const MAX_TOOLS = 1000;
const MAX_LIST_PAGES = 50;
const ERROR_MAX_CHARS = 1000;

/**
 * One configured MCP server: connects in the background, registers its tools in the registry,
 * follows `notifications/tools/list_changed`, and reconnects with backoff whenever an attempt
 * fails or the connection is lost. Tools stay registered while the server is down (a call then
 * says so), so that a paused approval or a running task does not see its tool vanish on a blip.
 */
export class McpServerConnection implements McpToolCaller {
  private status: McpServerStatus;
  private error: string | undefined;
  private client: Client | undefined;
  private opened: OpenedTransport | undefined;
  /** The attempt in progress, so that close() can stop it (and its child process) too. */
  private attempting: { client: Client; opened?: OpenedTransport } | undefined;
  private readonly tools = new Map<string, { definition: McpToolDefinition; tool: McpTool }>();
  private attempt = 0;
  /** Bumped by every attempt and by close(); callbacks of older attempts do nothing. */
  private generation = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly config: McpServerConfig,
    private readonly deps: McpConnectionDeps,
  ) {
    this.status = config.enabled ? 'connecting' : 'disabled';
  }

  get name(): string {
    return this.config.name;
  }

  start(): void {
    if (this.config.enabled && !this.closed) void this.connect();
  }

  state(): McpServerState {
    return {
      name: this.name,
      transport: transportKindOf(this.config),
      status: this.status,
      ...(this.error !== undefined && this.status !== 'connected' ? { error: this.error } : {}),
      tools: [...this.tools.values()].map(({ tool }) => tool.name).sort(),
    };
  }

  /** The stdio server's process id while connected (tests kill it to exercise reconnection). */
  pid(): number | null {
    return this.status === 'connected' ? (this.opened?.pid() ?? null) : null;
  }

  async callTool(toolName: string, args: ToolArguments, signal: AbortSignal): Promise<ToolResult> {
    const client = this.client;
    if (!client || this.status !== 'connected') {
      const reason = this.error ? `: ${this.error}` : '';
      return { success: false, output: `The MCP server "${this.name}" is not connected (${this.status}${reason}). It reconnects by itself; try again later.` };
    }
    try {
      const result = await client.callTool({ name: toolName, arguments: args }, undefined, { signal, timeout: this.config.timeout_s * 1000 });
      return mapCallToolResult(result);
    } catch (error) {
      if (signal.aborted) throw error;
      if (this.opened?.kind === 'streamable_http') this.scheduleHealthCheck(0);
      return { success: false, output: `The MCP server "${this.name}" could not run "${toolName}": ${messageOf(error)}` };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.generation += 1;
    clearTimeout(this.retryTimer);
    clearTimeout(this.healthTimer);
    const { client, opened, attempting } = this;
    this.client = undefined;
    this.attempting = undefined;
    for (const { tool } of this.tools.values()) this.deps.registry.unregister(tool.name);
    this.tools.clear();
    await Promise.all([client && closeClient(client, opened), attempting && attempting.client !== client && closeClient(attempting.client, attempting.opened)]);
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    const { logger } = this.deps;
    this.status = 'connecting';
    const client = new Client({ name: 'tokendance', version: this.deps.clientVersion }, { capabilities: {} });
    let opened: OpenedTransport | undefined;
    const attempt: { client: Client; opened?: OpenedTransport } = { client };
    this.attempting = attempt;
    try {
      opened = openTransport(this.config, this.deps.env, (line) => logger.debug({ mcp_server: this.name }, line));
      attempt.opened = opened;
      client.onclose = () => this.lost(client);
      client.onerror = (error) => logger.debug({ mcp_server: this.name, err: error }, 'MCP transport error');
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        void this.refreshTools(client).catch((error) => logger.warn({ mcp_server: this.name, err: error }, 'could not refresh the tools of an MCP server'));
      });
      const timeout = this.config.connect_timeout_s * 1000;
      await client.connect(opened.transport, { timeout });
      if (generation !== this.generation) throw new Error('superseded');
      this.client = client;
      this.opened = opened;
      await this.refreshTools(client, timeout);
      if (generation !== this.generation || this.client !== client) throw new Error('superseded');
      this.status = 'connected';
      this.error = undefined;
      this.attempt = 0;
      if (opened.kind === 'streamable_http') this.scheduleHealthCheck(HTTP_HEALTH_CHECK_MS);
      logger.info({ mcp_server: this.name, tools: this.tools.size }, `MCP server "${this.name}" connected with ${this.tools.size} tools`);
    } catch (error) {
      if (this.client === client) this.client = undefined;
      await closeClient(client, opened);
      if (generation !== this.generation || this.closed) return;
      this.fail(withStderr(messageOf(error), opened));
    } finally {
      if (this.attempting === attempt) this.attempting = undefined;
    }
  }

  /** The transport closed: a stdio server exited, or we closed it. */
  private lost(client: Client): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    this.generation += 1;
    clearTimeout(this.healthTimer);
    this.fail(withStderr('the connection closed (the server went away)', this.opened));
  }

  private fail(message: string): void {
    this.status = 'failed';
    this.error = message.length > ERROR_MAX_CHARS ? `${message.slice(0, ERROR_MAX_CHARS)}…` : message;
    const delay = Math.round(backoffDelay(this.attempt, this.deps.backoff ?? MCP_RECONNECT_BACKOFF));
    this.attempt += 1;
    this.deps.logger.warn({ mcp_server: this.name, retry_in_ms: delay }, `MCP server "${this.name}" failed: ${this.error}`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
    this.retryTimer.unref();
  }

  /** Pings a Streamable HTTP server; an unanswered ping counts as a lost connection. */
  private scheduleHealthCheck(delayMs: number): void {
    clearTimeout(this.healthTimer);
    const client = this.client;
    if (!client) return;
    this.healthTimer = setTimeout(async () => {
      try {
        await client.ping({ timeout: this.config.connect_timeout_s * 1000 });
        if (this.client === client) this.scheduleHealthCheck(HTTP_HEALTH_CHECK_MS);
      } catch (error) {
        if (this.client !== client || this.closed) return;
        this.client = undefined;
        this.generation += 1;
        await closeClient(client, this.opened);
        this.fail(`the server stopped answering: ${messageOf(error)}`);
      }
    }, delayMs);
    this.healthTimer.unref();
  }

  /** Lists the tools again and brings the registry in line; calls are serialised. */
  private refreshTools(client: Client, timeout?: number): Promise<void> {
    const next = this.refreshing.then(() => this.applyToolList(client, timeout));
    this.refreshing = next.catch(() => undefined);
    return next;
  }

  private async applyToolList(client: Client, timeout?: number): Promise<void> {
    const definitions = await listAllTools(client, timeout);
    if (this.client !== client) return;
    const { registry, logger } = this.deps;
    // Tools that require task-based execution cannot be called with a plain tools/call.
    const usable = new Map(definitions.filter((tool) => tool.execution?.taskSupport !== 'required').map((tool) => [tool.name, tool]));
    for (const [remoteName, entry] of this.tools) {
      const next = usable.get(remoteName);
      if (next && sameDefinition(next, entry.definition)) continue;
      registry.unregister(entry.tool.name);
      this.tools.delete(remoteName);
    }
    for (const definition of usable.values()) {
      if (this.tools.has(definition.name)) continue;
      const tool = createMcpTool(this.name, definition, this);
      if (tool.schemaProblem) logger.warn({ mcp_server: this.name, tool: tool.name }, `input schema not checked here (the server still validates): ${tool.schemaProblem}`);
      try {
        registry.register(tool);
        this.tools.set(definition.name, { definition, tool });
      } catch (error) {
        logger.warn({ mcp_server: this.name, tool: tool.name, err: error }, 'MCP tool not registered');
      }
    }
  }
}

async function listAllTools(client: Client, timeout?: number): Promise<McpToolDefinition[]> {
  const tools: McpToolDefinition[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES && tools.length < MAX_TOOLS; page += 1) {
    const result = await client.listTools(cursor === undefined ? undefined : { cursor }, timeout === undefined ? undefined : { timeout });
    tools.push(...result.tools);
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  return tools.slice(0, MAX_TOOLS);
}

/** Ends a session politely where the transport has one, then closes (a stdio child is stopped). */
async function closeClient(client: Client, opened: OpenedTransport | undefined): Promise<void> {
  client.onclose = undefined;
  const transport = opened?.transport;
  if (transport instanceof StreamableHTTPClientTransport && transport.sessionId) {
    await Promise.race([transport.terminateSession().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }
  await client.close().catch(() => undefined);
}

function withStderr(message: string, opened: OpenedTransport | undefined): string {
  const tail = opened?.stderrTail();
  return tail ? `${message}; stderr: ${tail}` : message;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
