import { z } from 'zod';
import { errorBody } from '../../schemas/common.js';
import { authResultSchema, loginBody, logoutBody, refreshBody, registerBody, streamTicketSchema, tokenPairSchema, userSchema } from '../../schemas/user.js';
import type { App, HttpContext } from '../context.js';
import { requireIdentity } from '../request-auth.js';

const tags = ['auth'];
const errors = { 400: errorBody, 401: errorBody, 409: errorBody, 429: errorBody };

export async function authRoutes(app: App, { auth }: HttpContext): Promise<void> {
  app.post(
    '/auth/register',
    { config: { public: true }, schema: { tags, summary: 'Create an account and its default workspace', security: [], body: registerBody, response: { 201: authResultSchema, ...errors } } },
    async (request, reply) => reply.code(201).send(await auth.register(request.body)),
  );

  app.post(
    '/auth/login',
    { config: { public: true }, schema: { tags, summary: 'Log in with email and password', security: [], body: loginBody, response: { 200: authResultSchema, ...errors } } },
    async (request) => auth.login(request.body, request.ip),
  );

  app.post(
    '/auth/refresh',
    { config: { public: true }, schema: { tags, summary: 'Rotate a refresh token', security: [], body: refreshBody, response: { 200: tokenPairSchema, ...errors } } },
    async (request) => auth.refresh(request.body.refresh_token),
  );

  app.post(
    '/auth/logout',
    {
      schema: { tags, summary: 'Revoke this login (access and refresh tokens)', security: [{ bearer: [] }], body: logoutBody, response: { 204: z.null(), ...errors } },
    },
    async (request, reply) => {
      const identity = requireIdentity(request);
      await auth.logout(identity.claims!, request.body?.refresh_token);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/auth/me',
    { schema: { tags, summary: 'The current user', security: [{ bearer: [] }], response: { 200: userSchema, 401: errorBody } } },
    async (request) => auth.me(requireIdentity(request).userId),
  );

  app.post(
    '/auth/stream-ticket',
    {
      schema: { tags, summary: 'A single-use ticket for EventSource (?ticket=) on SSE endpoints', security: [{ bearer: [] }], response: { 201: streamTicketSchema, 401: errorBody } },
    },
    async (request, reply) => reply.code(201).send(await auth.issueStreamTicket(requireIdentity(request).userId)),
  );
}
