import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, type ErrorCode, type FieldError } from '../core/errors.js';

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
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'VALIDATION_ERROR',
  429: 'RATE_LIMITED',
  503: 'UNAVAILABLE',
};

/** The Service API (`/api/*` outside `/api/v1`) answers in its envelope; everything else in the TokenDance body. */
export const isServiceApi = (url: string): boolean => url.startsWith('/api/') && !url.startsWith('/api/v1/') && url !== '/api/v1';

export interface NormalizedError {
  status: number;
  code: ErrorCode;
  detail: string;
  errors?: FieldError[];
  retryAfterS?: number;
}

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
    const normalizedStatus = code === 'VALIDATION_ERROR' && status !== 400 ? 400 : code === 'NOT_FOUND' ? 404 : status;
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
    default:
      return code === 'NOT_FOUND' ? 'Not found' : (error.message ?? 'Bad request');
  }
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const normalized = normalizeError(error);
  if (normalized.status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ error_code: normalized.code, detail: normalized.detail }, 'request rejected');
  if (normalized.retryAfterS !== undefined) reply.header('retry-after', String(normalized.retryAfterS));
  reply.code(normalized.status).type('application/json; charset=utf-8');
  if (isServiceApi(request.url)) return reply.send({ success: false, data: null, error: normalized.detail });
  return reply.send({
    detail: normalized.detail,
    error_code: normalized.code,
    timestamp: new Date().toISOString(),
    request_id: request.id,
    ...(normalized.errors ? { errors: normalized.errors } : {}),
  });
}
