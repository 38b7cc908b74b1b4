import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, type ErrorCode, type FieldError } from '../core/errors.js';
import { type Surface, surfaceOf } from './surface.js';

const STATUS_OF: Record<ErrorCode, number> = {
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  UNAVAILABLE: 503,
};

const CODE_OF_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'NOT_FOUND',
  406: 'VALIDATION_ERROR',
  408: 'VALIDATION_ERROR',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'VALIDATION_ERROR',
  415: 'VALIDATION_ERROR',
  431: 'VALIDATION_ERROR',
  429: 'RATE_LIMITED',
  503: 'UNAVAILABLE',
};


export interface NormalizedError {
  status: number;
  code: ErrorCode;
  detail: string;
  errors?: FieldError[];
  retryAfterS?: number;
}

/** Statuses that tell a client something 400 would not (retry later, shorten the URL or headers). */
const KEPT_STATUSES = new Set([408, 413, 414, 429, 431]);

/** The one place that turns any thrown thing into a status, an error code and a safe message. */
export function normalizeError(error: unknown): NormalizedError {
  if (error instanceof AppError) {
    return { status: STATUS_OF[error.code], code: error.code, detail: error.message, ...error.details };
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const errors = error.validation.map((issue) => ({
      field: issue.instancePath.replace(/^\//, '').replaceAll('/', '.') || (error.validationContext ?? 'body'),
      message: issue.message ?? 'is invalid',
    }));
    const context = error.validationContext ?? 'request';
    return { status: 400, code: 'VALIDATION_ERROR', detail: `Invalid ${context}: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors };
  }
  const fastifyError = error as Partial<FastifyError>;
  const status = fastifyError.statusCode;
  if (status && status >= 400 && status < 500) {
    const code = CODE_OF_STATUS[status] ?? 'VALIDATION_ERROR';
    const normalizedStatus = KEPT_STATUSES.has(status) ? status : code === 'VALIDATION_ERROR' ? 400 : code === 'NOT_FOUND' ? 404 : status;
    return { status: normalizedStatus, code, detail: clientMessage(fastifyError, code) };
  }
  if (status === 503) return { status: 503, code: 'UNAVAILABLE', detail: 'A dependency is unavailable' };
  return { status: 500, code: 'INTERNAL_ERROR', detail: 'Internal server error' };
}

function clientMessage(error: Partial<FastifyError>, code: ErrorCode): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'Malformed JSON body';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'Body cannot be empty when content-type is application/json';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
      return 'Request body is too large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Unsupported content type';
    case 'FST_ERR_BAD_URL':
      return 'The URL is not valid: bad percent-encoding';
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return 'A path parameter is too long';
    default:
      return code === 'NOT_FOUND' ? 'Not found' : (error.message ?? 'Bad request');
  }
}

/** The error body of a surface: the Service API's envelope, or the TokenDance API's error body everywhere else. */
export function errorBodyFor(surface: Surface, error: NormalizedError, requestId: string): Record<string, unknown> {
  if (surface === 'service') return { success: false, data: null, error: error.detail };
  return {
    detail: error.detail,
    error_code: error.code,
    timestamp: new Date().toISOString(),
    request_id: requestId,
    ...(error.errors ? { errors: error.errors } : {}),
  };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const normalized = normalizeError(error);
  if (normalized.status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ error_code: normalized.code, detail: normalized.detail }, 'request rejected');
  if (normalized.retryAfterS !== undefined) reply.header('retry-after', String(normalized.retryAfterS));
  reply.header('x-request-id', request.id);
  reply.code(normalized.status).type('application/json; charset=utf-8');
  return reply.send(errorBodyFor(surfaceOf(request), normalized, request.id));
}
