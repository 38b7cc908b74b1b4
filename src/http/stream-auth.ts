import type { FastifyRequest } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { unauthorized } from '../core/errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** An SSE route: accepts a single-use `?ticket=` in place of a bearer token. */
    streamTicket?: boolean;
  }
}

export const ticketOf = (request: FastifyRequest): string | undefined => {
  const ticket = (request.query as Record<string, unknown> | undefined)?.ticket;
  return typeof ticket === 'string' ? ticket : undefined;
};

/**
 * SSE endpoints accept a bearer token, or (for browsers' EventSource, which cannot send headers)
 * a single-use `?ticket=`. A presented ticket is always redeemed, so it is spent or refused even
 * where another identity (local mode, a bearer token) would have sufficed, and it must name the
 * same user as a bearer token sent beside it. Nowhere else is a credential accepted in the query.
 */
export async function streamUserId(request: FastifyRequest, auth: AuthService): Promise<string> {
  const ticket = ticketOf(request);
  if (ticket !== undefined) {
    if (request.identityError) throw unauthorized(request.identityError);
    const ticketUser = await auth.redeemStreamTicket(ticket);
    if (request.identity?.claims && request.identity.userId !== ticketUser) throw unauthorized('The stream ticket belongs to another user than the bearer token');
    return ticketUser;
  }
  if (request.identity) return request.identity.userId;
  if (request.identityError) throw unauthorized(request.identityError);
  throw unauthorized('Authentication required: a bearer token or a stream ticket');
}
