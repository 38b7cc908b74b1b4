import { z } from 'zod';
import { validationError } from '../core/errors.js';
import { chatConfirmBody } from '../schemas/approval.js';
import { findNulField } from './nul-guard.js';
import { chatMessageBody } from './routes/chat.js';

const sessionId = z.string().min(1).max(200);

/** What a WebSocket client may send (§7.4): the chat and stream requests as typed JSON frames. */
export const wsClientFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('subscribe'), session_id: sessionId, last_event_id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() }),
  z.object({ type: z.literal('unsubscribe'), session_id: sessionId }),
  chatMessageBody.extend({ type: z.literal('message'), session_id: sessionId }),
  chatConfirmBody.extend({ type: z.literal('confirm') }),
  z.object({ type: z.literal('stop'), session_id: sessionId }),
  // Browsers cannot send protocol pings: this one is answered with {type:"pong"}.
  z.object({ type: z.literal('ping') }),
]);

export type WsClientFrame = z.infer<typeof wsClientFrame>;
export type WsRequestType = WsClientFrame['type'];

const REQUEST_TYPES = new Set<string>(wsClientFrame.options.map((option) => option.shape.type.value));

/** The type a frame claims, when it is one we know (so error frames can name it). */
export function requestTypeOf(value: unknown): WsRequestType | null {
  const type = (value as { type?: unknown } | null)?.type;
  return typeof type === 'string' && REQUEST_TYPES.has(type) ? (type as WsRequestType) : null;
}

/** Decodes one incoming frame into a JSON object, or throws a VALIDATION_ERROR. */
export function decodeFrame(data: string | null): object {
  if (data === null) throw validationError('Frames must be JSON text, not binary');
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw validationError('Malformed JSON frame');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw validationError('A frame must be a JSON object with a "type"');
  return value;
}

/** Checks a decoded frame against its type's schema, or throws a VALIDATION_ERROR that says what is wrong. */
export function validateFrame(value: object): WsClientFrame {
  const requestType = requestTypeOf(value);
  if (requestType === null) {
    const type = (value as { type?: unknown }).type;
    const shown = typeof type === 'string' ? `"${type.slice(0, 50)}"` : 'missing';
    throw validationError(`Unknown frame type (${shown}): expected one of ${[...REQUEST_TYPES].join(', ')}`, [{ field: 'type', message: 'unknown frame type' }]);
  }
  // The same rule as for HTTP bodies: PostgreSQL cannot store NUL, so no identifier or prose may carry one.
  const nulField = findNulField(value, 'frame');
  if (nulField) throw validationError(`${nulField} must not contain NUL characters`, [{ field: nulField, message: 'must not contain NUL (\\u0000) characters' }]);
  const parsed = wsClientFrame.safeParse(value);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((issue) => ({ field: issue.path.join('.') || 'frame', message: issue.message }));
    throw validationError(`Invalid ${requestType} frame: ${errors.map((error) => `${error.field}: ${error.message}`).join('; ')}`, errors);
  }
  return parsed.data;
}
