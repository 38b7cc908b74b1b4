import { z } from 'zod';
import { isoTimestamp } from './common.js';
import { EXAMPLE } from './examples.js';

export const workspaceSchema = z
  .object({ id: z.string(), name: z.string(), role: z.string(), created_at: isoTimestamp })
  .meta({ id: 'Workspace', examples: [{ id: EXAMPLE.workspaceId, name: 'Default', role: 'owner', created_at: EXAMPLE.time }] });
export type Workspace = z.infer<typeof workspaceSchema>;

export const createWorkspaceBody = z.object({ name: z.string().trim().min(1).max(200) }).meta({ examples: [{ name: 'Research' }] });
export const workspaceListSchema = z.object({ items: z.array(workspaceSchema), total: z.number().int() });
