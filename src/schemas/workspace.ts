import { z } from 'zod';
import { isoTimestamp } from './common.js';
import { EXAMPLE } from './examples.js';

/** Tool-name pattern (`*` wildcards, e.g. `mcp.*`) → policy; layered over the server's `[tools.policy]`, whose `deny` always stands. */
export const toolPolicySchema = z
  .record(
    z.string().min(1).max(200).regex(/^[A-Za-z0-9_.*-]+$/, 'tool name patterns use letters, digits, _ . - and * wildcards'),
    z.enum(['allow', 'ask', 'deny']),
  )
  .refine((policy) => Object.keys(policy).length <= 100, 'at most 100 patterns')
  .meta({ id: 'ToolPolicy', examples: [{ shell: 'deny', 'mcp.*': 'ask', file_delete: 'ask' }] });

export const workspaceSchema = z
  .object({ id: z.string(), name: z.string(), role: z.string(), created_at: isoTimestamp, tool_policy: toolPolicySchema.nullable() })
  .meta({ id: 'Workspace', examples: [{ id: EXAMPLE.workspaceId, name: 'Default', role: 'owner', created_at: EXAMPLE.time, tool_policy: null }] });
export type Workspace = z.infer<typeof workspaceSchema>;

export const createWorkspaceBody = z.object({ name: z.string().trim().min(1).max(200) }).meta({ examples: [{ name: 'Research' }] });
export const workspaceListSchema = z.object({ items: z.array(workspaceSchema), total: z.number().int() });

export const updateWorkspaceBody = z
  .object({ name: z.string().trim().min(1).max(200).optional(), tool_policy: toolPolicySchema.nullable().optional() })
  .meta({ examples: [{ tool_policy: { shell: 'deny' } }, { name: 'Renamed', tool_policy: null }] });
