import type { McpServerConfig } from '../config/schema.js';
import { type McpConnectionDeps, McpServerConnection, type McpServerState } from './server-connection.js';

/**
 * The MCP client side: one connection per `[[mcp.servers]]` entry. `start` returns at once; servers
 * connect (and reconnect) in the background, so a slow or broken server never delays start-up.
 */
export class McpClientManager {
  private readonly connections: McpServerConnection[];

  constructor(servers: readonly McpServerConfig[], deps: McpConnectionDeps) {
    this.connections = servers.map((server) => new McpServerConnection(server, deps));
  }

  start(): void {
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
