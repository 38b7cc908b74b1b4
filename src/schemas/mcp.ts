import { z } from 'zod';
import { EXAMPLE } from './examples.js';

const jsonSchema = z.record(z.string(), z.unknown()).describe('JSON Schema of the arguments object');
const policy = z.enum(['allow', 'ask', 'deny']);

const echoSchema = { type: 'object', properties: { message: { type: 'string', description: 'Message to echo' } }, required: ['message'] };

/** A tool as the MCP API lists it: built-in (`server: null`) or from an MCP server (`mcp.<server>.<tool>`). */
export const mcpToolSchema = z
  .object({
    name: z.string().describe('Product name: `file_read`, or `mcp.<server>.<tool>` for MCP tools'),
    wire_name: z.string().describe('The name the model sees (`^[A-Za-z0-9_-]{1,64}$`); also accepted wherever `name` is'),
    description: z.string(),
    server: z.string().nullable().describe('The MCP server of the tool; null for built-in tools'),
    input_schema: jsonSchema,
    policy: policy.describe('Policy from `[tools.policy]` (a session\'s workspace policy may tighten or relax it, never lift a deny)'),
  })
  .meta({
    id: 'McpTool',
    examples: [{ name: 'mcp.everything.echo', wire_name: 'mcp__everything__echo', description: 'Echoes back the input string', server: 'everything', input_schema: echoSchema, policy: 'ask' }],
  });

export const mcpToolSchemaDetails = z
  .object({ name: z.string(), wire_name: z.string(), description: z.string(), input_schema: jsonSchema })
  .meta({ id: 'McpToolSchema', examples: [{ name: 'mcp.everything.echo', wire_name: 'mcp__everything__echo', description: 'Echoes back the input string', input_schema: echoSchema }] });

export const toolNameParams = z.object({ name: z.string().min(1).max(500).describe('Product (dotted) or wire name; URL-encode it') });

export const executeToolBody = z
  .object({
    arguments: z.record(z.string(), z.unknown()).default({}).describe('The tool arguments; checked against the tool\'s JSON Schema'),
    session_id: z.string().min(1).max(200).optional().describe('Required for tools that work in a session workspace (file_*, shell, working memory); its workspace policy applies'),
  })
  .meta({ examples: [{ arguments: { message: 'hello' } }, { arguments: { path: 'notes.txt' }, session_id: EXAMPLE.sessionId }] });

export const executeToolResult = z
  .object({
    success: z.boolean(),
    result: z.string().nullable().describe('The tool output when it succeeded (capped like any tool result)'),
    error: z.string().nullable().describe('What went wrong when it did not'),
    duration_ms: z.number().int(),
  })
  .meta({ id: 'ToolExecution', examples: [{ success: true, result: 'Echo: hello', error: null, duration_ms: 4 }] });

export const mcpServerSchema = z
  .object({
    name: z.string(),
    transport: z.enum(['stdio', 'streamable_http']),
    status: z.enum(['connected', 'connecting', 'failed', 'disabled']),
    error: z.string().optional().describe('Why the last attempt failed or the connection was lost (while not connected)'),
    tools: z.array(z.string()).describe('Dotted names of its tools; kept while it reconnects'),
  })
  .meta({ id: 'McpServer', examples: [{ name: 'everything', transport: 'stdio', status: 'connected', tools: ['mcp.everything.echo', 'mcp.everything.get-sum'] }] });

export type McpToolInfo = z.infer<typeof mcpToolSchema>;
export type ExecuteToolResult = z.infer<typeof executeToolResult>;
