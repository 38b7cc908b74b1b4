import { errorBody, idParams } from '../../schemas/common.js';
import { createWorkspaceBody, updateWorkspaceBody, workspaceListSchema, workspaceSchema } from '../../schemas/workspace.js';
import type { App, HttpContext } from '../context.js';
import { requireIdentity } from '../request-auth.js';

const tags = ['workspaces'];
const security = [{ bearer: [] }];
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody };

export async function workspacesRoutes(app: App, { workspaces }: HttpContext): Promise<void> {
  app.get(
    '/workspaces',
    { schema: { tags, security, summary: 'Workspaces the user belongs to', response: { 200: workspaceListSchema, ...errors } } },
    async (request) => workspaces.list(requireIdentity(request).userId),
  );

  app.post(
    '/workspaces',
    { schema: { tags, security, summary: 'Create a workspace', body: createWorkspaceBody, response: { 201: workspaceSchema, ...errors } } },
    async (request, reply) => reply.code(201).send(await workspaces.create(requireIdentity(request).userId, request.body.name)),
  );

  app.get(
    '/workspaces/:id',
    { schema: { tags, security, summary: 'One workspace', params: idParams, response: { 200: workspaceSchema, ...errors } } },
    async (request) => workspaces.get(requireIdentity(request).userId, request.params.id),
  );

  app.patch(
    '/workspaces/:id',
    {
      schema: {
        tags,
        security,
        summary: 'Rename a workspace or set its tool policy (members only)',
        params: idParams,
        body: updateWorkspaceBody,
        response: { 200: workspaceSchema, ...errors },
      },
    },
    async (request) => workspaces.update(requireIdentity(request).userId, request.params.id, request.body),
  );
}
