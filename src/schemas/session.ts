import { z } from 'zod';
import { isoTimestamp, paginationQuery, queryBoolean } from './common.js';
import { EXAMPLE } from './examples.js';

export const SESSION_STATUSES = ['created', 'running', 'completed', 'error'] as const;
export const sessionStatus = z.enum(SESSION_STATUSES);
export type SessionStatus = z.infer<typeof sessionStatus>;

const sessionExample = {
  id: EXAMPLE.sessionId,
  workspace_id: EXAMPLE.workspaceId,
  title: 'Demo',
  task_type: 'general',
  status: 'completed' as const,
  created_at: EXAMPLE.time,
  updated_at: EXAMPLE.time,
};

export const sessionSchema = z
  .object({
    id: z.string(),
    workspace_id: z.string(),
    title: z.string(),
    task_type: z.string(),
    status: sessionStatus,
    created_at: isoTimestamp,
    updated_at: isoTimestamp,
  })
  .meta({ id: 'Session', examples: [sessionExample] });
export type Session = z.infer<typeof sessionSchema>;

export const sessionDetailsSchema = sessionSchema
  .extend({
    message_count: z.number().int().optional(),
    usage: z.object({ input_tokens: z.number().int(), output_tokens: z.number().int() }).optional(),
    current_run: z.object({ id: z.string(), state: z.string(), started_at: isoTimestamp.nullable() }).nullable().optional(),
    pending_approvals: z.number().int().optional(),
  })
  .meta({
    id: 'SessionDetails',
    examples: [{ ...sessionExample, message_count: 2, usage: { input_tokens: 812, output_tokens: 64 }, current_run: null, pending_approvals: 0 }],
  });

const title = z.string().max(200);

export const createSessionBody = z
  .object({
    workspace_id: z.string().min(1).max(200),
    title: title.optional(),
    task_type: z.string().min(1).max(100).optional(),
  })
  .meta({ examples: [{ workspace_id: EXAMPLE.workspaceId, title: 'Demo' }] });

export const listSessionsQuery = z.object({
  workspace_id: z.string().min(1).max(200),
  status: sessionStatus.optional(),
  ...paginationQuery,
});

export const getSessionQuery = z.object({ include_details: queryBoolean.optional() });

export const patchSessionBody = z
  .object({ title: title.optional(), status: sessionStatus.optional() })
  .meta({ examples: [{ title: 'Renamed demo' }] });

export const sessionListSchema = z.object({
  items: z.array(sessionSchema),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});
