import { z } from 'zod';
import { errorBody } from '../../schemas/common.js';
import { executeToolBody, executeToolResult, mcpServerSchema, mcpToolSchema, mcpToolSchemaDetails, toolNameParams } from '../../schemas/mcp.js';
import type { App, HttpContext } from '../context.js';
import { requireIdentity } from '../request-auth.js';

const tags = ['mcp'];
const security = [{ bearer: [] }];
const errors = { 400: errorBody, 401: errorBody, 404: errorBody };

/** The MCP API (§9): tools (built-in and from MCP servers), direct calls, server status. */
export async function mcpRoutes(app: App, { toolApi }: HttpContext): Promise<void> {
  app.get(
    '/mcp/tools',
    { schema: { tags, security, summary: 'Every tool: built-in ones and those of connected MCP servers', response: { 200: z.array(mcpToolSchema), 401: errorBody } } },
    async () => toolApi.listTools(),
  );

  app.get(
    '/mcp/tools/:name/schema',
    { schema: { tags, security, summary: "A tool's JSON Schema", params: toolNameParams, response: { 200: mcpToolSchemaDetails, ...errors } } },
    async (request) => toolApi.schema(request.params.name),
  );

  app.post(
    '/mcp/tools/:name/execute',
    {
      schema: {
        tags,
        security,
        summary: 'Run a tool directly as yourself: `ask` tools run without an approval, `deny` tools are refused (403)',
        params: toolNameParams,
        body: executeToolBody,
        response: { 200: executeToolResult, ...errors, 403: errorBody },
      },
    },
    async (request, reply) => {
      const { userId } = requireIdentity(request);
      // A client that hangs up cancels the call (an MCP server gets notifications/cancelled).
      const controller = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableFinished) controller.abort(new Error('client disconnected'));
      };
      reply.raw.once('close', onClose);
      try {
        return await toolApi.execute(userId, request.params.name, request.body, controller.signal);
      } finally {
        reply.raw.off('close', onClose);
      }
    },
  );

  app.get(
    '/mcp/servers',
    { schema: { tags, security, summary: 'Configured MCP servers and their connection status', response: { 200: z.array(mcpServerSchema), 401: errorBody } } },
    async () => toolApi.servers(),
  );
}
