import type { FastifyReply, FastifyRequest } from 'fastify';
import { validationError } from '../core/errors.js';
import type { EventBus } from '../events/bus.js';
import type { EventLog } from '../events/log.js';
import { SseWriter } from '../events/sse-writer.js';
import type { HttpContext } from './context.js';

/** Open SSE writers, so shutdown can end them with a final comment. */
export class SseRegistry {
  private readonly writers = new Set<SseWriter>();

  add(writer: SseWriter): void {
    this.writers.add(writer);
    writer.onClose(() => this.writers.delete(writer));
  }

  closeAll(comment: string): void {
    for (const writer of this.writers) writer.end(comment);
  }

  get size(): number {
    return this.writers.size;
  }
}

export interface StreamDeps {
  log: EventLog;
  bus: EventBus;
  registry: SseRegistry;
}

/**
 * Takes over the response for SSE. `release` frees the user's concurrent-stream slot (taken by
 * the caller with `sseSlots.acquire`) when the connection ends.
 */
export function openSse(context: HttpContext, deps: StreamDeps, request: FastifyRequest, reply: FastifyReply, release: () => void): SseWriter {
  reply.hijack();
  // A hijacked reply writes its own head: carry over what hooks set (X-Request-Id, CORS, rate-limit headers).
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) reply.raw.setHeader(name, value);
  }
  reply.raw.setHeader('x-request-id', request.id);
  const writer = new SseWriter(reply.raw, {
    heartbeatMs: context.config.events.heartbeat_s * 1000,
    maxBufferedBytes: context.config.limits.sse_buffer_max_bytes,
    stallTimeoutMs: context.config.limits.sse_stall_timeout_s * 1000,
  });
  writer.onClose(release);
  deps.registry.add(writer);
  return writer;
}

/** `Last-Event-ID` header or `?last_event_id=`: a non-negative integer cursor, or undefined. */
export function lastEventId(request: FastifyRequest): number | undefined {
  const header = request.headers['last-event-id'];
  const query = (request.query as Record<string, unknown> | undefined)?.last_event_id;
  const raw = typeof header === 'string' && header !== '' ? header : typeof query === 'string' ? query : undefined;
  if (raw === undefined) return undefined;
  const cursor = Number(raw);
  if (!Number.isSafeInteger(cursor) || cursor < 0) {
    throw validationError('Last-Event-ID must be a non-negative integer cursor', [{ field: 'last_event_id', message: 'must be a non-negative integer' }]);
  }
  return cursor;
}
