import { forbidden, notFound } from '../core/errors.js';
import type { AccessedSession, SessionWithRole } from '../store/repositories/sessions.js';

/** The rule of every session route: 404 for an unknown session, 403 when the user is not a member of its workspace. */
export function accessibleSession(found: SessionWithRole | undefined): AccessedSession {
  if (!found) throw notFound('Session');
  if (!found.role) throw forbidden('You do not have access to this session');
  return found.session;
}
