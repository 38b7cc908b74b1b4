/**
 * Typed application errors. The HTTP layer maps `code` to a status and error body in one place
 * (src/http/error-handler.ts); nothing else decides status codes.
 */
export type ErrorCode =
  | 'VALIDATION_ERROR'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'INTERNAL_ERROR'
  | 'UNAVAILABLE';

export interface FieldError {
  field: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: { errors?: FieldError[]; retryAfterS?: number } = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const validationError = (message: string, errors?: FieldError[]) =>
  new AppError('VALIDATION_ERROR', message, errors ? { errors } : {});
export const unauthorized = (message = 'Authentication required') => new AppError('UNAUTHORIZED', message);
export const forbidden = (message = 'You do not have access to this resource') => new AppError('FORBIDDEN', message);
export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const conflict = (message: string) => new AppError('CONFLICT', message);
export const rateLimited = (message: string, retryAfterS: number) =>
  new AppError('RATE_LIMITED', message, { retryAfterS });
export const unavailable = (message: string) => new AppError('UNAVAILABLE', message);
