import { z } from 'zod';
import type { ToolSpec } from '../agent/providers/types.js';
import { layeredPolicy, matchesAnyPattern, type ToolPolicyOverrides } from './policy.js';
import { runWithDeadline } from './run-with-deadline.js';
import { truncateOutput } from './truncate-output.js';
import type { Tool, ToolContext, ToolPolicy, ToolResult } from './types.js';
import { fromWireName, hashedWireName, reversibleWireName, wireName } from './wire-names.js';

export { fromWireName, wireName } from './wire-names.js';
export type { ToolPolicyOverrides } from './policy.js';

export interface ToolRegistryOptions {
  tools?: Iterable<Tool>;
  /** `[tools.policy]` from config; the default for `policyFor` and `specs`. */
  policy?: ToolPolicyOverrides;
}

export interface ToolExecutionOptions {
  timeoutMs: number;
  maxResultChars: number;
}

export interface ToolExecution extends ToolResult {
  durationMs: number;
  /** The validated arguments, or null when the call failed before validation passed. */
  args: unknown;
}

export type ParsedToolCall = { ok: true; tool: Tool; args: unknown } | { ok: false; error: string };

/** Hash lengths tried, in order, when a name needs a hashed wire name that is already taken. */
const WIRE_HASH_LENGTHS = [8, 12, 16, 32];

/**
 * The tools available to the agent, keyed by dotted name and reachable by wire name. Tools can be
 * added and removed at runtime (MCP servers connecting and disconnecting). Policy is evaluated
 * here but enforced by the caller: `execute` runs whatever it is asked to.
 *
 * Wire names come from these tables, not from reversing `__`: a name that cannot map reversibly
 * (any MCP tool name) gets a hashed wire name, see wire-names.ts.
 */
export class ToolRegistry {
  private readonly byName = new Map<string, Tool>();
  private readonly byWireName = new Map<string, Tool>();
  private readonly wireNames = new Map<string, string>();

  private readonly policy: ToolPolicyOverrides;

  constructor(options: ToolRegistryOptions = {}) {
    this.policy = options.policy ?? {};
    for (const tool of options.tools ?? []) this.register(tool);
  }

  /** Throws on an empty or already registered name: both are programming errors. */
  register(tool: Tool): void {
    if (tool.name === '') throw new Error('tool name must not be empty');
    if (this.byName.has(tool.name)) throw new Error(`tool "${tool.name}" is already registered`);
    const wire = this.freeWireName(tool.name);
    this.byName.set(tool.name, tool);
    this.byWireName.set(wire, tool);
    this.wireNames.set(tool.name, wire);
  }

  /** Accepts a dotted or wire name; returns whether a tool was removed. */
  unregister(name: string): boolean {
    const tool = this.get(name);
    if (!tool) return false;
    this.byName.delete(tool.name);
    this.byWireName.delete(this.wireNames.get(tool.name)!);
    this.wireNames.delete(tool.name);
    return true;
  }

  /** Looks a tool up by dotted or wire name. */
  get(name: string): Tool | undefined {
    return this.byName.get(name) ?? this.byWireName.get(name);
  }

  /** Every registered tool, sorted by name. */
  list(): Tool[] {
    return [...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Wire name of a tool; works for unregistered names too. */
  wireName(name: string): string {
    const tool = this.get(name);
    return tool ? this.wireNames.get(tool.name)! : wireName(name);
  }

  /** Dotted name of a registered tool given its wire (or dotted) name; unknown names come back unchanged. */
  fromWireName(name: string): string {
    return this.get(name)?.name ?? name;
  }

  /** Policy for a dotted or wire name, optionally layered with a workspace's policy; unknown tools fall back to `deny`. */
  policyFor(name: string, overrides: ToolPolicyOverrides = this.policy, workspace?: ToolPolicyOverrides | null): ToolPolicy {
    const tool = this.get(name);
    return layeredPolicy(tool?.name ?? fromWireName(name), overrides, workspace, tool?.defaultPolicy ?? 'deny');
  }

  /**
   * Tool definitions for the model: wire names, JSON Schema parameters, denied tools left out.
   * `only` holds name patterns (wildcards allowed) of a profile's tool set; undefined = every tool.
   */
  specs(only?: readonly string[], overrides: ToolPolicyOverrides = this.policy, workspace?: ToolPolicyOverrides | null): ToolSpec[] {
    return this.list()
      .filter((tool) => this.policyFor(tool.name, overrides, workspace) !== 'deny')
      .filter((tool) => !only || matchesAnyPattern(only, tool.name))
      .map((tool) => ({ name: this.wireName(tool.name), description: tool.description, parameters: parametersOf(tool) }));
  }

  /** Validates raw model arguments so a caller can check them before asking a human to approve the call. */
  parseArgs(name: string, rawJson: string): ParsedToolCall {
    const tool = this.get(name);
    if (!tool) return { ok: false, error: this.unknownToolMessage(name) };
    const shownName = this.wireName(tool.name);

    let json: unknown;
    try {
      // Models often send an empty string for tools without arguments.
      json = rawJson.trim() === '' ? {} : JSON.parse(rawJson);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { ok: false, error: `Invalid JSON in the arguments for tool "${shownName}": ${reason}. Send a JSON object.` };
    }

    const parsed = tool.inputSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => `- ${issue.path.map(String).join('.') || '(arguments)'}: ${issue.message}`);
      return { ok: false, error: [`Invalid arguments for tool "${shownName}":`, ...issues].join('\n') };
    }
    return { ok: true, tool, args: parsed.data };
  }

  /** Parses, validates and runs a tool call. Never throws: every failure becomes a `success: false` result. */
  async execute(
    name: string,
    rawJson: string,
    ctx: ToolContext,
    options: ToolExecutionOptions,
  ): Promise<ToolExecution> {
    const started = performance.now();
    const finish = (result: ToolResult, args: unknown): ToolExecution => ({
      output: truncateOutput(result.output, options.maxResultChars),
      success: result.success,
      ...(result.images ? { images: result.images } : {}),
      durationMs: Math.round(performance.now() - started),
      args,
    });

    const parsed = this.parseArgs(name, rawJson);
    if (!parsed.ok) return finish({ output: parsed.error, success: false }, null);
    const result = await runWithDeadline(parsed.tool, this.wireName(parsed.tool.name), parsed.args, ctx, options.timeoutMs);
    return finish(result, parsed.args);
  }

  /**
   * The reversible form when it is free, else the hashed form with the shortest hash that is free.
   * Depends only on the name unless two names clash, which for hashed names takes a SHA-256 prefix collision.
   */
  private freeWireName(name: string): string {
    const candidates = [reversibleWireName(name), ...WIRE_HASH_LENGTHS.map((length) => hashedWireName(name, length))];
    const free = candidates.find((candidate) => candidate !== undefined && !this.byWireName.has(candidate));
    if (!free) throw new Error(`tool "${name}" has no free wire name`);
    return free;
  }

  private unknownToolMessage(name: string): string {
    const available = this.list().map((tool) => this.wireName(tool.name));
    return available.length > 0
      ? `Unknown tool "${name}". Available tools: ${available.join(', ')}`
      : `Unknown tool "${name}". No tools are available.`;
  }
}

/** JSON Schema per tool object, computed once: specs are built for every model call. */
const parametersCache = new WeakMap<Tool, Record<string, unknown>>();

/** The JSON Schema of a tool's arguments, as the model sees it. */
export function parametersOf(tool: Tool): Record<string, unknown> {
  const cached = parametersCache.get(tool);
  if (cached) return cached;
  // io 'input' keeps fields with defaults optional; 'any' keeps a transform or date from throwing here.
  const schema = tool.parametersJsonSchema ?? z.toJSONSchema(tool.inputSchema, { io: 'input', unrepresentable: 'any' });
  const { $schema: _dialect, ...parameters } = schema as Record<string, unknown>;
  parametersCache.set(tool, parameters);
  return parameters;
}
