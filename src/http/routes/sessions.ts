import { z } from 'zod';
import { artifactListSchema } from '../../schemas/artifact.js';
import { errorBody, idParams } from '../../schemas/common.js';
import { listMessagesQuery, messageListSchema } from '../../schemas/message.js';
import {
  createSessionBody,
  getSessionQuery,
  listSessionsQuery,
  patchSessionBody,
  sessionDetailsSchema,
  sessionListSchema,
  sessionSchema,
} from '../../schemas/session.js';
import type { App, HttpContext } from '../context.js';
import { requireIdentity } from '../request-auth.js';

const tags = ['sessions'];
const security = [{ bearer: [] }];
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody };

export async function sessionsRoutes(app: App, { sessions }: HttpContext): Promise<void> {
  app.post(
    '/sessions',
    { schema: { tags, security, summary: 'Create a session', body: createSessionBody, response: { 201: sessionSchema, ...errors } } },
    async (request, reply) => reply.code(201).send(await sessions.create(requireIdentity(request).userId, request.body)),
  );

  app.get(
    '/sessions',
    { schema: { tags, security, summary: 'Sessions of a workspace, newest first', querystring: listSessionsQuery, response: { 200: sessionListSchema, ...errors } } },
    async (request) => sessions.list(requireIdentity(request).userId, request.query),
  );

  app.get(
    '/sessions/:id',
    { schema: { tags, security, summary: 'One session', params: idParams, querystring: getSessionQuery, response: { 200: sessionDetailsSchema, ...errors } } },
    async (request) => sessions.get(requireIdentity(request).userId, request.params.id, request.query.include_details ?? false),
  );

  app.patch(
    '/sessions/:id',
    { schema: { tags, security, summary: 'Rename or set the status of a session', params: idParams, body: patchSessionBody, response: { 200: sessionSchema, ...errors } } },
    async (request) => sessions.patch(requireIdentity(request).userId, request.params.id, request.body),
  );

  app.delete(
    '/sessions/:id',
    { schema: { tags, security, summary: 'Delete a session and everything in it', params: idParams, response: { 204: z.null(), ...errors } } },
    async (request, reply) => {
      await sessions.delete(requireIdentity(request).userId, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/sessions/:id/complete',
    { schema: { tags, security, summary: 'Stop any run and mark the session completed', params: idParams, response: { 200: sessionSchema, ...errors } } },
    async (request) => sessions.complete(requireIdentity(request).userId, request.params.id),
  );

  app.get(
    '/sessions/:id/messages',
    { schema: { tags, security, summary: 'Messages, chronological', params: idParams, querystring: listMessagesQuery, response: { 200: messageListSchema, ...errors } } },
    async (request) => sessions.messages(requireIdentity(request).userId, request.params.id, request.query.limit, request.query.before),
  );

  app.get(
    '/sessions/:id/artifacts',
    { schema: { tags, security, summary: 'Files the agent produced', params: idParams, response: { 200: artifactListSchema, ...errors } } },
    async (request) => sessions.artifacts(requireIdentity(request).userId, request.params.id),
  );
}
