import type { McpServerConfig } from '../config/schema.js';
import type { McpConnectionDeps, McpServerConnection, McpServerState } from './server-connection.js';

/**
 * The MCP client side: one connection per `[[mcp.servers]]` entry. `start` returns at once; servers
 * connect (and reconnect) in the background, so a slow or broken server never delays start-up.
 */
export class McpClientManager {
  private connections: McpServerConnection[] = [];

  constructor(
    private readonly configs: readonly McpServerConfig[],
    private readonly deps: McpConnectionDeps,
  ) {}

  /** Loads the MCP SDK only when a server is configured: otherwise it is ~10 MB of memory for nothing. */
  async start(): Promise<void> {
    if (this.configs.length === 0) return;
    const { McpServerConnection } = await import('./server-connection.js');
    this.connections = this.configs.map((server) => new McpServerConnection(server, this.deps));
    for (const connection of this.connections) connection.start();
  }

  /** Every configured server, in config order. */
  servers(): McpServerState[] {
    return this.connections.map((connection) => connection.state());
  }

  connection(name: string): McpServerConnection | undefined {
    return this.connections.find((connection) => connection.name === name);
  }

  async close(): Promise<void> {
    await Promise.all(this.connections.map((connection) => connection.close()));
  }
}
