import { pino, type DestinationStream, type Logger } from 'pino';
import { prettyLogStream } from './pretty-log.js';

export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * Structured logs; credentials never reach them (headers redacted, stream tickets masked).
 * JSON lines, or readable lines at a terminal (`auto` = pretty when stdout is a TTY).
 */
export function createLogger(level: string, enabled: boolean, format: LogFormat = 'json'): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  const destination: DestinationStream | undefined = pretty
    ? prettyLogStream(process.stdout, process.stdout.isTTY === true && !process.env.NO_COLOR)
    : undefined;
  const options = {
    level: enabled ? level : 'silent',
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.refresh_token', '*.access_token', '*.api_key'], remove: true },
    serializers: {
      req: (request: { method: string; url: string; id: string }) => ({
        method: request.method,
        url: request.url.replace(/([?&]ticket=)[^&]*/g, '$1[redacted]'),
        request_id: request.id,
      }),
    },
    hooks: {
      // Fastify logs "Server listening at …" once per bound address; the CLI announces the server once itself.
      logMethod(this: Logger, args: unknown[], method: (...args: unknown[]) => void) {
        if (typeof args[0] === 'string' && args[0].startsWith('Server listening at ')) return;
        method.apply(this, args);
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
