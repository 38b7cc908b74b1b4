import { z } from 'zod';
import { approvalAnswerSchema, approvalDetailsSchema, approvalRequestSchema, hitlConfirmBody } from '../../schemas/approval.js';
import { errorBody, idParams } from '../../schemas/common.js';
import type { App, HttpContext } from '../context.js';
import { requireIdentity } from '../request-auth.js';

const tags = ['hitl'];
const security = [{ bearer: [] }];
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody };

/** Human-in-the-loop approvals (§6). `POST /chat/{id}/confirm` answers the same requests. */
export async function hitlRoutes(app: App, { approvals }: HttpContext): Promise<void> {
  app.get(
    '/sessions/:id/hitl/pending',
    { schema: { tags, security, summary: 'Approval requests of the session waiting for an answer', params: idParams, response: { 200: z.array(approvalRequestSchema), ...errors } } },
    async (request) => approvals.listPending(requireIdentity(request).userId, request.params.id),
  );

  app.get(
    '/hitl/:id',
    { schema: { tags, security, summary: 'One approval request with its status', params: idParams, response: { 200: approvalDetailsSchema, ...errors } } },
    async (request) => approvals.get(requireIdentity(request).userId, request.params.id),
  );

  app.post(
    '/hitl/:id/confirm',
    {
      schema: {
        tags,
        security,
        summary: 'Approve or reject a pending request (once; 409 when already answered or expired)',
        params: idParams,
        body: hitlConfirmBody,
        response: { 200: approvalAnswerSchema, ...errors, 409: errorBody },
      },
    },
    async (request) => approvals.answer(requireIdentity(request).userId, request.params.id, request.body.approved, request.body.user_feedback),
  );
}
