import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AppError } from '../../core/errors.js';
import { WorkingMemory } from '../../memory/working-memory.js';
import type { McpCaller, McpServerDeps } from './deps.js';
import { runTask, type ToolExtra } from './run-task.js';
import { getSessionInput, getSessionOutput, listSessionsInput, listSessionsOutput, runTaskInput, runTaskOutput } from './tool-schemas.js';

const INSTRUCTIONS =
  'TokenDance runs agent tasks (tools, files, web research) in sessions. Use run_task to delegate a task and get its final answer; ' +
  'list_sessions and get_session read earlier sessions, their messages and working memory.';

/**
 * TokenDance's own MCP server for one MCP session of one user: other agents and IDEs delegate
 * tasks to it. Every tool acts as that user, with the same access rules as the REST API.
 */
export function createTokenDanceMcpServer(deps: McpServerDeps, caller: McpCaller): McpServer {
  const server = new McpServer({ name: 'tokendance', title: 'TokenDance', version: deps.version }, { instructions: INSTRUCTIONS });
  const { userId } = caller;

  server.registerTool(
    'run_task',
    {
      title: 'Run a TokenDance task',
      description:
        'Runs an agent task to its end and returns the final answer (task_id and session_id in the structured result). ' +
        'Progress notifications report tool calls and the answer as it streams. A tool call that needs a human approval is asked ' +
        'through elicitation when the client supports it; otherwise the result has status "waiting_for_approval" and a request_id to answer with ' +
        'POST /api/v1/hitl/{request_id}/confirm. Cancelling the request stops the task.',
      inputSchema: runTaskInput,
      outputSchema: runTaskOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    (input, extra) =>
      asToolResult(deps, () => {
        const form = server.server.getClientCapabilities()?.elicitation?.form;
        const elicit = form
          ? (params: Parameters<typeof server.server.elicitInput>[0], options: { signal: AbortSignal; timeout: number }) =>
              server.server.elicitInput(params, { ...options, relatedRequestId: extra.requestId })
          : undefined;
        return runTask(deps, caller, input, { extra: extra as ToolExtra, elicit });
      }),
  );

  server.registerTool(
    'list_sessions',
    {
      title: 'List TokenDance sessions',
      description: 'Your sessions in one workspace (default: your default workspace), newest first.',
      inputSchema: listSessionsInput,
      outputSchema: listSessionsOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (input) =>
      asToolResult(deps, async () => {
        const workspaceId = input.workspace_id ?? (await deps.defaultWorkspaceOf(userId));
        if (!workspaceId) throw new AppError('NOT_FOUND', 'Default workspace not found');
        const list = await deps.sessions.list(userId, { workspace_id: workspaceId, limit: input.limit ?? 20, offset: input.offset ?? 0 });
        return json(list);
      }),
  );

  server.registerTool(
    'get_session',
    {
      title: 'Read a TokenDance session',
      description: 'A session with its details, its latest messages and its working memory (task plan, findings, progress).',
      inputSchema: getSessionInput,
      outputSchema: getSessionOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (input) =>
      asToolResult(deps, async () => {
        const session = await deps.sessions.get(userId, input.session_id, true);
        const messages = await deps.sessions.messages(userId, input.session_id, input.message_limit ?? 50);
        const working_memory = await new WorkingMemory(deps.directories.pathOf(session.id), session.id).snapshot();
        return json({ session, messages, working_memory });
      }),
  );

  return server;
}

function json(value: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value };
}

/** Refusals (no access, unknown task_type, busy session) become tool errors with their message; anything else stays opaque. */
async function asToolResult(deps: McpServerDeps, work: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AppError) return { content: [{ type: 'text', text: `${error.code}: ${error.message}` }], isError: true };
    deps.warn({ err: error }, 'MCP tool call failed');
    return { content: [{ type: 'text', text: 'INTERNAL_ERROR: the tool call failed unexpectedly' }], isError: true };
  }
}
