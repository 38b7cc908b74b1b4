/**
 * A pino destination for people at a terminal: each JSON line pino writes becomes
 * `12:04:05.123 INFO  message  key=value …`. Redaction has already happened when pino serialized
 * the line, so this sees only what the JSON logs would show.
 */
export interface LineWriter {
  write(line: string): void;
}

const LEVELS: Record<number, { name: string; color: number }> = {
  10: { name: 'TRACE', color: 90 },
  20: { name: 'DEBUG', color: 36 },
  30: { name: 'INFO', color: 32 },
  40: { name: 'WARN', color: 33 },
  50: { name: 'ERROR', color: 31 },
  60: { name: 'FATAL', color: 35 },
};

/** Keys shown elsewhere in the line, or noise at a terminal (the request id only matters on warnings and errors). */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'req', 'res', 'err', 'responseTime']);

/** Requests seen arriving but not yet finished, so the completion line can say which request it was. */
const MAX_OPEN_REQUESTS = 10_000;

export function prettyLogStream(out: NodeJS.WritableStream, colors: boolean): LineWriter {
  const paint = (code: number, text: string) => (colors ? `\x1b[${code}m${text}\x1b[39m` : text);
  const open = new Map<unknown, { method?: string; url?: string }>();
  return {
    write(line: string) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      // Fastify logs the request on arrival and only its id on completion: name the request on both lines.
      if (entry.reqId !== undefined && entry.req && typeof entry.req === 'object') {
        open.set(entry.reqId, entry.req as { method?: string; url?: string });
        if (open.size > MAX_OPEN_REQUESTS) open.delete(open.keys().next().value);
      } else if (entry.reqId !== undefined && entry.res && open.has(entry.reqId)) {
        entry.req = open.get(entry.reqId);
        open.delete(entry.reqId);
      }
      out.write(`${formatEntry(entry, paint)}\n`);
    },
  };
}

function formatEntry(entry: Record<string, unknown>, paint: (code: number, text: string) => string): string {
  const level = LEVELS[entry.level as number] ?? { name: String(entry.level).toUpperCase(), color: 39 };
  const time = new Date(typeof entry.time === 'number' ? entry.time : Date.now()).toTimeString().slice(0, 8);
  const parts = [paint(90, time), paint(level.color, level.name.padEnd(5))];

  const request = entry.req as { method?: string; url?: string } | undefined;
  const response = entry.res as { statusCode?: number } | undefined;
  if (request?.method) parts.push(`${request.method} ${request.url ?? ''}`);
  if (response?.statusCode) parts.push(String(response.statusCode));
  if (typeof entry.responseTime === 'number') parts.push(`${entry.responseTime.toFixed(1)}ms`);
  if (entry.msg !== undefined) parts.push(String(entry.msg));

  const fields = Object.entries(entry)
    .filter(([key, value]) => !HIDDEN.has(key) && value !== undefined && (key !== 'reqId' || (entry.level as number) >= 40))
    .map(([key, value]) => `${paint(90, `${key}=`)}${typeof value === 'string' ? value : JSON.stringify(value)}`);
  let text = [...parts, ...fields].join(' ');

  const error = entry.err as { message?: string; stack?: string } | undefined;
  if (error) text += ` ${paint(31, error.message ?? 'error')}${(entry.level as number) >= 50 && error.stack ? `\n${indent(error.stack)}` : ''}`;
  return text;
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
