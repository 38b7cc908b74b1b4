import { z } from 'zod';
import { isoTimestamp } from './common.js';

export const workspaceSchema = z
  .object({ id: z.string(), name: z.string(), role: z.string(), created_at: isoTimestamp })
  .meta({ id: 'Workspace' });
export type Workspace = z.infer<typeof workspaceSchema>;

export const createWorkspaceBody = z.object({ name: z.string().trim().min(1).max(200) });
export const workspaceListSchema = z.object({ items: z.array(workspaceSchema), total: z.number().int() });
