import type { z } from 'zod';
import type { ToolPolicy } from '../config/schema.js';
import type { WorkingMemoryChange } from '../memory/working-memory.js';

export type { ToolPolicy };
export type RiskLevel = 'low' | 'medium' | 'high';

export interface ToolContext {
  sessionId: string;
  runId: string;
  /** Absolute path of the session workspace; it exists. */
  workspaceDir: string;
  /** Aborted when the run is cancelled or the tool exceeds its time limit. */
  signal: AbortSignal;
  /** Called when a tool creates or changes a file in the workspace, with its workspace-relative path. */
  onFileWritten?(relativePath: string): Promise<void> | void;
  /** Called when a tool deletes a file, so it stops being listed as an artifact. */
  onFileDeleted?(relativePath: string): Promise<void> | void;
  /** Called after a working-memory file (task plan, findings, progress) changed; these are never artifacts. */
  onWorkingMemoryChanged?(change: WorkingMemoryChange): Promise<void> | void;
}

export interface ToolResult {
  output: string;
  success: boolean;
  /** Images for the model (e.g. an MCP tool's image content); providers with vision see them as image parts. */
  images?: ToolImage[];
}

export interface ToolImage {
  mediaType: string;
  dataBase64: string;
}

/** What an approval request shows a human, e.g. `{ operation: 'file_write', description: 'Write 12 bytes to notes.txt' }`. */
export interface ToolOperationDescription {
  operation: string;
  description: string;
}

/**
 * A tool the agent can call. `Args` is the parsed (zod output) argument type; the registry
 * validates raw model arguments against `inputSchema` before calling `risk`, `describe` or `execute`.
 */
export interface Tool<Args = unknown> {
  /** Dotted product name, e.g. `file_read` or `mcp.server.tool`; the registry derives the wire name. */
  name: string;
  description: string;
  inputSchema: z.ZodType<Args>;
  /**
   * JSON Schema shown to the model instead of one derived from `inputSchema`, for tools whose
   * schema arrives as JSON Schema already (MCP) and would lose detail through zod.
   */
  parametersJsonSchema?: Record<string, unknown>;
  defaultPolicy: ToolPolicy;
  /** The configured MCP server the tool comes from; undefined for built-in tools. */
  mcpServer?: string;
  /**
   * False for tools that never touch the session workspace (MCP tools), so a direct REST call
   * needs no session. Undefined counts as true: a tool needs a workspace unless it says otherwise.
   */
  usesWorkspace?: boolean;
  risk(args: Args): RiskLevel;
  describe(args: Args): ToolOperationDescription;
  execute(args: Args, ctx: ToolContext): Promise<ToolResult>;
}
