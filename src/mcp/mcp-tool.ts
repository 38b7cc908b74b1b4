import type { Tool as McpToolDefinition } from '@modelcontextprotocol/sdk/types.js';
import type { RiskLevel, Tool, ToolResult } from '../tools/types.js';
import { argumentsSchemaOf, type ToolArguments } from './json-schema-args.js';

export type { McpToolDefinition };

/** What an MCP tool needs from its server's connection. */
export interface McpToolCaller {
  callTool(toolName: string, args: ToolArguments, signal: AbortSignal): Promise<ToolResult>;
}

export interface McpTool extends Tool<ToolArguments> {
  /** The tool's name on its MCP server (any characters). */
  readonly remoteName: string;
  /** Why its JSON Schema could not be compiled, if so (the server then validates alone). */
  readonly schemaProblem?: string;
}

/** Long descriptions cost tokens on every model call. */
const DESCRIPTION_MAX_CHARS = 4000;
const DESCRIBED_ARGS_MAX_CHARS = 300;

export const mcpToolName = (server: string, tool: string): string => `mcp.${server}.${tool}`;

/** An MCP server's tool as a registry tool: `mcp.<server>.<tool>`, `ask` unless configured otherwise. */
export function createMcpTool(server: string, definition: McpToolDefinition, caller: McpToolCaller): McpTool {
  const parameters: Record<string, unknown> = { properties: {}, ...definition.inputSchema, type: 'object' };
  const { schema, problem } = argumentsSchemaOf(parameters);
  const name = mcpToolName(server, definition.name);
  const description = (definition.description ?? definition.title ?? `Tool "${definition.name}" of the MCP server "${server}"`).slice(0, DESCRIPTION_MAX_CHARS);
  const risk = riskOf(definition);
  return {
    name,
    remoteName: definition.name,
    ...(problem === undefined ? {} : { schemaProblem: problem }),
    description,
    inputSchema: schema,
    parametersJsonSchema: parameters,
    defaultPolicy: 'ask',
    mcpServer: server,
    usesWorkspace: false,
    risk: () => risk,
    describe: (args) => ({ operation: name, description: `Call "${definition.name}" on the MCP server "${server}" with ${previewOf(args)}` }),
    execute: (args, ctx) => caller.callTool(definition.name, args, ctx.signal),
  };
}

/** Two definitions that would produce the same tool (so a refreshed list can keep it registered). */
export function sameDefinition(a: McpToolDefinition, b: McpToolDefinition): boolean {
  return JSON.stringify([a.name, a.title, a.description, a.inputSchema, a.annotations]) === JSON.stringify([b.name, b.title, b.description, b.inputSchema, b.annotations]);
}

/**
 * From the tool's annotations, which are hints from the server. Per the MCP spec a tool that is
 * not read-only may be destructive unless it says otherwise.
 */
function riskOf(definition: McpToolDefinition): RiskLevel {
  const hints = definition.annotations ?? {};
  if (hints.readOnlyHint === true) return 'low';
  return hints.destructiveHint === false ? 'medium' : 'high';
}

function previewOf(args: ToolArguments): string {
  const json = JSON.stringify(args);
  return json.length > DESCRIBED_ARGS_MAX_CHARS ? `${json.slice(0, DESCRIBED_ARGS_MAX_CHARS)}…` : json;
}
