import { z } from 'zod';
import { isoTimestamp } from './common.js';
import { EXAMPLE } from './examples.js';

const requestExample = {
  request_id: '3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7',
  session_id: EXAMPLE.sessionId,
  run_id: EXAMPLE.runId,
  operation: 'file_delete',
  description: 'Delete file notes.txt',
  context: { tool: 'file_delete', args: { path: 'notes.txt' }, call_id: 'call_1', file_path: 'notes.txt' },
  risk_level: 'high' as const,
  created_at: EXAMPLE.time,
  expires_at: '2026-01-15T09:40:00.000Z',
};

/** A pending approval request (§6): one tool call of a paused run, waiting for a human. */
export const approvalRequestSchema = z
  .object({
    request_id: z.string().describe('Same id as `action_id` in the chat stream'),
    session_id: z.string(),
    run_id: z.string(),
    operation: z.string(),
    description: z.string(),
    context: z.object({ tool: z.string(), args: z.unknown(), call_id: z.string(), file_path: z.string().optional() }),
    risk_level: z.enum(['low', 'medium', 'high']),
    created_at: isoTimestamp,
    expires_at: isoTimestamp,
  })
  .meta({ id: 'ApprovalRequest', examples: [requestExample] });

export const approvalDetailsSchema = approvalRequestSchema
  .extend({
    status: z.enum(['pending', 'approved', 'rejected', 'expired']),
    user_feedback: z.string().nullable(),
    responded_at: isoTimestamp.nullable(),
  })
  .meta({ id: 'ApprovalRequestDetails', examples: [{ ...requestExample, status: 'approved', user_feedback: null, responded_at: EXAMPLE.time }] });

export const approvalAnswerSchema = z
  .object({ request_id: z.string(), approved: z.boolean(), user_feedback: z.string().nullable(), responded_at: isoTimestamp })
  .meta({ id: 'ApprovalAnswer', examples: [{ request_id: requestExample.request_id, approved: false, user_feedback: 'keep it', responded_at: EXAMPLE.time }] });

const feedback = z.string().max(10_000).optional();

export const hitlConfirmBody = z
  .object({ approved: z.boolean(), user_feedback: feedback })
  .meta({ examples: [{ approved: true }, { approved: false, user_feedback: 'Do not delete it, archive it instead' }] });

export const chatConfirmBody = z
  .object({ action_id: z.string().min(1).max(200), confirmed: z.boolean(), feedback })
  .meta({ examples: [{ action_id: requestExample.request_id, confirmed: true }] });
