import { pino, type Logger } from 'pino';

/** Structured JSON logs; credentials never reach them (headers redacted, stream tickets masked). */
export function createLogger(level: string, enabled: boolean): Logger {
  return pino({
    level: enabled ? level : 'silent',
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.refresh_token', '*.access_token', '*.api_key'], remove: true },
    serializers: {
      req: (request: { method: string; url: string; id: string }) => ({
        method: request.method,
        url: request.url.replace(/([?&]ticket=)[^&]*/g, '$1[redacted]'),
        request_id: request.id,
      }),
    },
  });
}
