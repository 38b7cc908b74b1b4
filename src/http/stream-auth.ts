import type { FastifyRequest } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { unauthorized } from '../core/errors.js';

/**
 * SSE endpoints accept a bearer token, or (for browsers' EventSource, which cannot send headers)
 * a single-use `?ticket=`. Nowhere else is a credential accepted in the query string.
 */
export async function streamUserId(request: FastifyRequest, auth: AuthService): Promise<string> {
  if (request.identity) return request.identity.userId;
  if (request.identityError) throw unauthorized(request.identityError);
  const ticket = (request.query as Record<string, unknown> | undefined)?.ticket;
  if (typeof ticket === 'string' && ticket !== '') return auth.redeemStreamTicket(ticket);
  throw unauthorized('Authentication required: a bearer token or a stream ticket');
}
