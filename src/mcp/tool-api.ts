import { recordArtifact } from '../sessions/artifact-files.js';
import type { Config } from '../config/schema.js';
import { forbidden, notFound, validationError } from '../core/errors.js';
import type { ExecuteToolResult, McpToolInfo } from '../schemas/mcp.js';
import type { SessionsService } from '../sessions/service.js';
import type { SessionDirectories } from '../sessions/workspace-dir.js';
import type { Store } from '../store/store.js';
import { parsePolicyJson } from '../tools/policy.js';
import { parametersOf, type ToolRegistry } from '../tools/registry.js';
import type { Tool, ToolContext } from '../tools/types.js';
import type { McpClientManager } from './client-manager.js';
import type { McpServerState } from './server-connection.js';

export interface ToolApiDeps {
  registry: ToolRegistry;
  clients: McpClientManager;
  sessions: SessionsService;
  store: Store;
  directories: SessionDirectories;
  agent: Config['agent'];
}

export interface ExecuteToolInput {
  arguments: Record<string, unknown>;
  session_id?: string;
}

/**
 * The MCP API (§9): the tool catalogue (built-in and MCP), direct tool calls and MCP server status.
 * A direct call is the authenticated human's own action, so `ask` tools run without an approval;
 * `deny` still refuses, with the session's workspace policy layered in when a session is named.
 */
export class ToolApi {
  constructor(private readonly deps: ToolApiDeps) {}

  listTools(): McpToolInfo[] {
    const { registry } = this.deps;
    return registry.list().map((tool) => ({
      name: tool.name,
      wire_name: registry.wireName(tool.name),
      description: tool.description,
      server: tool.mcpServer ?? null,
      input_schema: parametersOf(tool),
      policy: registry.policyFor(tool.name),
    }));
  }

  schema(name: string): { name: string; wire_name: string; description: string; input_schema: Record<string, unknown> } {
    const tool = this.require(name);
    return { name: tool.name, wire_name: this.deps.registry.wireName(tool.name), description: tool.description, input_schema: parametersOf(tool) };
  }

  servers(): McpServerState[] {
    return this.deps.clients.servers();
  }

  async execute(userId: string, name: string, input: ExecuteToolInput, signal: AbortSignal): Promise<ExecuteToolResult> {
    const { registry, sessions, store, directories, agent } = this.deps;
    const tool = this.require(name);
    if (tool.usesWorkspace !== false && input.session_id === undefined) {
      throw validationError(`Tool "${tool.name}" works in a session workspace: session_id is required`, [{ field: 'session_id', message: 'is required for this tool' }]);
    }
    const session = input.session_id === undefined ? undefined : await sessions.requireAccess(userId, input.session_id);
    const workspacePolicy = session ? parsePolicyJson((await store.workspaces.findById(session.workspace_id))?.tool_policy) : null;
    if (registry.policyFor(tool.name, undefined, workspacePolicy) === 'deny') throw forbidden(`Tool "${tool.name}" is denied by policy`);

    const rawArguments = JSON.stringify(input.arguments);
    const parsed = registry.parseArgs(tool.name, rawArguments);
    if (!parsed.ok) throw validationError(parsed.error, [{ field: 'arguments', message: parsed.error }]);

    const ctx: ToolContext = session
      ? { sessionId: session.id, runId: '', workspaceDir: await directories.ensure(session.id), signal, ...this.artifactHooks(session.id, directories.pathOf(session.id)) }
      : // Only tools that declared they never touch a workspace get here.
        { sessionId: '', runId: '', workspaceDir: '', signal };
    const execution = await registry.execute(tool.name, rawArguments, ctx, { timeoutMs: agent.tool_timeout_s * 1000, maxResultChars: agent.tool_result_max_chars });
    return {
      success: execution.success,
      result: execution.success ? execution.output : null,
      error: execution.success ? null : execution.output,
      duration_ms: execution.durationMs,
    };
  }

  private require(name: string): Tool {
    const tool = this.deps.registry.get(name);
    if (!tool) throw notFound(`Tool "${name}"`);
    return tool;
  }

  /** Files a direct call writes or deletes are listed as the session's artifacts, like the agent's (without a run). */
  private artifactHooks(sessionId: string, workspaceDir: string): Pick<ToolContext, 'onFileWritten' | 'onFileDeleted'> {
    const { store } = this.deps;
    return {
      onFileDeleted: (relativePath) => store.artifacts.deleteByPath(sessionId, relativePath),
      onFileWritten: async (relativePath) => {
        await recordArtifact(store, { sessionId, runId: null, workspaceDir }, relativePath);
      },
    };
  }
}

