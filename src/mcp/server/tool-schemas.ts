import { z } from 'zod';
import { messageSchema } from '../../schemas/message.js';
import { sessionDetailsSchema, sessionListSchema } from '../../schemas/session.js';
import { workingMemorySchema } from '../../schemas/working-memory.js';

/** Input and output schemas of the MCP tools; the SDK validates against them and lists them as JSON Schema. */

const id = z.string().min(1).max(200);

export const runTaskInput = {
  prompt: z.string().min(1).max(100_000).describe('What the agent should do'),
  session_id: id.optional().describe('Continue this session (its history is the context); default: a new session in your default workspace'),
  task_type: z.string().min(1).max(100).optional().describe('Agent profile of a new session, e.g. "general" or "deep-research"'),
};

export const RUN_TASK_STATUSES = ['completed', 'waiting_for_approval', 'failed', 'cancelled'] as const;

export const runTaskOutput = {
  task_id: z.string().describe('The run; GET /api/tasks/{task_id} and the session stream know it'),
  session_id: z.string(),
  status: z.enum(RUN_TASK_STATUSES),
  answer: z.string().optional().describe('The final answer (completed)'),
  artifacts: z.array(z.object({ id: z.string(), name: z.string(), path: z.string(), size: z.number() })).optional(),
  request_id: z.string().optional().describe('The approval the task waits for (waiting_for_approval)'),
  request_ids: z.array(z.string()).optional().describe('Every approval the task waits for'),
  error_code: z.string().optional().describe('Why it failed (failed, cancelled)'),
};
export type RunTaskOutput = z.infer<z.ZodObject<typeof runTaskOutput>>;

export const listSessionsInput = {
  limit: z.number().int().min(1).max(100).optional().describe('Default 20'),
  offset: z.number().int().min(0).optional(),
  workspace_id: id.optional().describe('Default: your default workspace'),
};

export const listSessionsOutput = sessionListSchema.shape;

export const getSessionInput = {
  session_id: id,
  message_limit: z.number().int().min(1).max(100).optional().describe('The latest messages to include (default 50)'),
};

export const getSessionOutput = {
  session: sessionDetailsSchema,
  messages: z.object({ items: z.array(messageSchema), total: z.number().int() }),
  working_memory: workingMemorySchema,
};
