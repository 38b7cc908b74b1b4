import type { FastifyBaseLogger } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import { rateLimited, validationError } from '../core/errors.js';
import { toNamedFrame } from '../events/projections.js';
import { SessionSubscription, SocketChannel } from '../events/socket-writer.js';
import { streamSession } from '../events/stream.js';
import type { HttpContext } from './context.js';
import { normalizeError } from './error-handler.js';
import { sessionStreamStart } from './routes/session-stream.js';
import { decodeFrame, requestTypeOf, validateFrame, type WsClientFrame, type WsRequestType } from './ws-frames.js';

/** Sessions one connection may follow at once (each is a live subscription). */
export const MAX_SUBSCRIPTIONS = 50;
/** Frames received but not yet handled; past this the socket stops reading (TCP back-pressure on a flooding client). */
const MAX_PENDING_FRAMES = 32;
/** Close codes (RFC 6455 §7.4): the client may retry later. */
const CLOSE_TRY_AGAIN_LATER = 1013;

/**
 * One WebSocket client (§7.4): it follows sessions (replay then live, as the session stream),
 * starts runs, answers approvals and stops runs. Every request is answered by exactly one
 * `{type:"ack", request_type, …}` or `{type:"error", code, status, message, request_type}`
 * frame, in the order the requests arrived; events are `{event, id, data, session_id}`.
 */
export class WsConnection {
  private readonly channel: SocketChannel;
  private readonly subscriptions = new Map<string, SessionSubscription>();
  /** Requests are handled one at a time, in order; the first step takes the stream slot. */
  private queue: Promise<void>;
  private pending = 0;
  private release?: () => void;
  /** Token bucket: the HTTP request limit, applied to frames. */
  private tokens: number;
  private refilledAt = Date.now();

  constructor(
    private readonly context: HttpContext,
    private readonly socket: WebSocket,
    private readonly userId: string,
    private readonly log: FastifyBaseLogger,
  ) {
    const { config } = context;
    this.channel = new SocketChannel(socket, {
      heartbeatMs: config.events.heartbeat_s * 1000,
      maxBufferedBytes: config.limits.sse_buffer_max_bytes,
      stallTimeoutMs: config.limits.sse_stall_timeout_s * 1000,
    });
    this.tokens = config.limits.requests_per_minute;
    this.channel.onClose(() => this.release?.());
    this.queue = this.takeSlot();
    socket.on('message', (data, isBinary) => this.receive(data, isBinary));
  }

  /** A WebSocket counts against the same per-user limit as SSE connections. */
  private async takeSlot(): Promise<void> {
    try {
      const release = await this.context.sseSlots.acquire(this.userId);
      if (this.channel.closed) return release();
      this.release = release;
    } catch (error) {
      this.sendError(error, null);
      this.channel.close(CLOSE_TRY_AGAIN_LATER, 'Too many concurrent streams');
    }
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (this.channel.closed) return;
    if (!this.takeToken()) return this.sendError(rateLimited(`Rate limit exceeded: ${this.context.config.limits.requests_per_minute} frames per minute`, 60), null);
    if (++this.pending >= MAX_PENDING_FRAMES) this.socket.pause();
    const text = isBinary ? null : rawText(data);
    this.queue = this.queue
      .then(() => this.handle(text))
      .finally(() => {
        if (--this.pending < MAX_PENDING_FRAMES && this.socket.isPaused) this.socket.resume();
      });
  }

  private async handle(text: string | null): Promise<void> {
    if (!this.release || this.channel.closed) return;
    let requestType: WsRequestType | null = null;
    let sessionId: string | undefined;
    try {
      const value = decodeFrame(text);
      requestType = requestTypeOf(value);
      const frame = validateFrame(value);
      if ('session_id' in frame) sessionId = frame.session_id;
      await this.dispatch(frame);
    } catch (error) {
      this.sendError(error, requestType, sessionId);
    }
  }

  private async dispatch(frame: WsClientFrame): Promise<void> {
    const { context, userId } = this;
    switch (frame.type) {
      case 'subscribe': {
        const session = await context.sessions.requireAccess(userId, frame.session_id);
        this.refuseMoreThanMax(session.id);
        const start = await sessionStreamStart(context, session, frame.last_event_id);
        this.ack('subscribe', { session_id: session.id });
        this.follow(session.id, start.after, start.opening);
        return;
      }
      case 'unsubscribe': {
        const subscription = this.subscriptions.get(frame.session_id);
        subscription?.end();
        this.ack('unsubscribe', { session_id: frame.session_id, was_subscribed: Boolean(subscription) });
        return;
      }
      case 'message': {
        const sessionId = frame.session_id;
        const given = frame.attachments ?? [];
        // As POST /chat/{id}/message: access is checked before attachments are stored, else by the start itself.
        if (given.length > 0) await context.sessions.requireAccess(userId, sessionId);
        this.refuseMoreThanMax(sessionId);
        const { prompt, images } = await context.attachments.resolve(userId, frame.content, given);
        const started = await context.runs.startChat(userId, sessionId, prompt, images);
        this.ack('message', { session_id: sessionId, run_id: started.run.id });
        // Like POST /chat/{id}/message: the run's events from its start; then the session stays followed.
        if (!this.subscriptions.has(sessionId)) this.follow(sessionId, started.startSeq - 1);
        return;
      }
      case 'confirm': {
        const answer = await context.approvals.answer(userId, frame.action_id, frame.confirmed, frame.feedback);
        this.ack('confirm', { ...answer });
        return;
      }
      case 'stop': {
        const session = await context.sessions.requireAccess(userId, frame.session_id);
        this.ack('stop', { session_id: session.id, stopped: await context.runs.stopSession(session.id, 'stopped by user') });
        return;
      }
      case 'ping':
        this.channel.send('{"type":"pong"}');
        return;
    }
  }

  /** Follows a session from a cursor (replacing an earlier subscription to it). */
  private follow(sessionId: string, after: number, opening?: { event: string; json: string }): void {
    this.subscriptions.get(sessionId)?.end();
    const subscription = new SessionSubscription(this.channel, sessionId);
    this.subscriptions.set(sessionId, subscription);
    subscription.onClose(() => {
      if (this.subscriptions.get(sessionId) === subscription) this.subscriptions.delete(sessionId);
    });
    if (opening) subscription.send(after, opening.event, opening.json);
    const { log, bus } = this.context.streams;
    streamSession(log, bus, subscription, sessionId, after, (event) => {
      const frame = toNamedFrame(event);
      if (frame) subscription.send(event.seq, frame.event, frame.json);
      return false;
    }).catch((error: unknown) => {
      // The replay could not be read (database down): say so; the client resubscribes with its cursor.
      subscription.end();
      this.sendError(error, 'subscribe', sessionId);
    });
  }

  private refuseMoreThanMax(sessionId: string): void {
    if (!this.subscriptions.has(sessionId) && this.subscriptions.size >= MAX_SUBSCRIPTIONS) {
      throw validationError(`A connection follows at most ${MAX_SUBSCRIPTIONS} sessions: unsubscribe from one first`);
    }
  }

  private ack(requestType: WsRequestType, fields: Record<string, unknown>): void {
    this.channel.send(JSON.stringify({ type: 'ack', request_type: requestType, ...fields }));
  }

  private sendError(error: unknown, requestType: WsRequestType | null, sessionId?: string): void {
    const normalized = normalizeError(error);
    if (normalized.status >= 500) this.log.error({ err: error }, 'websocket request failed');
    else this.log.info({ error_code: normalized.code, detail: normalized.detail, request_type: requestType }, 'websocket request rejected');
    this.channel.send(
      JSON.stringify({
        type: 'error',
        code: normalized.code,
        status: normalized.status,
        message: normalized.detail,
        request_type: requestType,
        ...(sessionId !== undefined ? { session_id: sessionId } : {}),
        ...(normalized.errors ? { errors: normalized.errors } : {}),
        ...(normalized.retryAfterS !== undefined ? { retry_after_s: normalized.retryAfterS } : {}),
      }),
    );
  }

  private takeToken(): boolean {
    const perMinute = this.context.config.limits.requests_per_minute;
    const now = Date.now();
    this.tokens = Math.min(perMinute, this.tokens + ((now - this.refilledAt) / 60_000) * perMinute);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}
