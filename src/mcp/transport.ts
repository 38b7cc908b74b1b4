import type { Readable } from 'node:stream';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { McpServerConfig } from '../config/schema.js';
import { resolveEnvReferences } from './env-references.js';

export type McpTransportKind = 'stdio' | 'streamable_http';

/** Variables a stdio server gets from the TokenDance server's environment besides its own `env`: enough for `npx`. */
const INHERITED_VARIABLES = ['PATH', 'HOME'] as const;

/** Lines of a stdio server's stderr kept to explain a failure, and how much of each. */
const STDERR_TAIL_LINES = 5;
const STDERR_LINE_MAX_CHARS = 500;

export interface OpenedTransport {
  transport: Transport;
  kind: McpTransportKind;
  /** The child process id of a stdio server, once started. */
  pid(): number | null;
  /** The last lines the stdio server wrote to stderr, for error messages. */
  stderrTail(): string;
}

export const transportKindOf = (server: McpServerConfig): McpTransportKind => (server.url ? 'streamable_http' : 'stdio');

/**
 * A fresh transport for one connection attempt. Throws (before anything starts) when a
 * `${env:NAME}` reference cannot be resolved.
 */
export function openTransport(server: McpServerConfig, env: NodeJS.ProcessEnv, onStderrLine: (line: string) => void): OpenedTransport {
  if (server.url) {
    const headers = resolveEnvReferences(server.headers, env, `mcp server "${server.name}" headers`);
    const transport = new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers } });
    return { transport, kind: 'streamable_http', pid: () => null, stderrTail: () => '' };
  }

  const childEnv: Record<string, string> = {};
  for (const name of INHERITED_VARIABLES) {
    const value = env[name];
    if (value !== undefined) childEnv[name] = value;
  }
  Object.assign(childEnv, resolveEnvReferences(server.env, env, `mcp server "${server.name}" env`));
  // The SDK adds only its fixed list of harmless variables (HOME, LOGNAME, PATH, SHELL, TERM, USER)
  // to the env given here, never the rest of the process environment (keys, TOKENDANCE_*).
  const transport = new StdioClientTransport({
    command: server.command!,
    args: server.args,
    env: childEnv,
    ...(server.cwd ? { cwd: server.cwd } : {}),
    stderr: 'pipe',
  });
  const tail: string[] = [];
  let partial = '';
  // Read continuously: a full pipe would block the child.
  (transport.stderr as Readable | null)?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = (lines.pop() ?? '').slice(-STDERR_LINE_MAX_CHARS);
    for (const line of lines.map((text) => text.trimEnd().slice(0, STDERR_LINE_MAX_CHARS)).filter(Boolean)) {
      onStderrLine(line);
      tail.push(line);
      if (tail.length > STDERR_TAIL_LINES) tail.shift();
    }
  });
  return { transport, kind: 'stdio', pid: () => transport.pid, stderrTail: () => [...tail, partial.trim()].filter(Boolean).join('\n') };
}
