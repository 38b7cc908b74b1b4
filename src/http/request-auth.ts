import type { FastifyRequest } from 'fastify';
import type { AuthService } from '../auth/service.js';
import type { AccessClaims } from '../auth/tokens.js';
import { unauthorized } from '../core/errors.js';

export interface RequestIdentity {
  userId: string;
  /** Absent for local-mode and stream-ticket identities. */
  claims?: AccessClaims;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without authentication. */
    public?: boolean;
  }
  interface FastifyRequest {
    identity?: RequestIdentity;
    /** Why a presented token was refused, reported only if the route needs a user. */
    identityError?: string;
  }
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : '';
}

/**
 * Resolves who is calling before rate limiting (so limits are per user) without rejecting yet:
 * public routes must still work with a stale token, and unknown routes must 404 either way.
 */
export async function resolveIdentity(request: FastifyRequest, auth: AuthService): Promise<void> {
  const token = bearerToken(request);
  if (token === undefined) return;
  if (token === '') {
    request.identityError = 'Authorization header must be "Bearer <token>"';
    return;
  }
  try {
    const claims = await auth.authenticate(token);
    request.identity = { userId: claims.userId, claims };
  } catch (error) {
    request.identityError = (error as Error).message;
  }
}

export function requireIdentity(request: FastifyRequest): RequestIdentity {
  if (request.identity) return request.identity;
  throw unauthorized(request.identityError ?? 'Authentication required');
}
