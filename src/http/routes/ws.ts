import type { FastifyInstance, FastifyRequest } from 'fastify';
import { validationError } from '../../core/errors.js';
import type { App, HttpContext } from '../context.js';
import { streamUserId } from '../stream-auth.js';
import { WsConnection } from '../ws-connection.js';
import { streamQuery } from './session-stream.js';

/** Largest frame a client may send; `ws` closes the connection with 1009 past it. */
export const WS_MAX_FRAME_BYTES = 1024 * 1024;

/** How long shutdown waits for clients to answer the close handshake before dropping them. */
const CLOSE_HANDSHAKE_GRACE_MS = 2000;

/** Options for @fastify/websocket (registered by the app before any route). */
export const websocketPluginOptions = {
  options: { maxPayload: WS_MAX_FRAME_BYTES },
  /** On shutdown clients get 1001 (going away) and reconnect with their cursors; one that never answers is dropped. */
  preClose(this: FastifyInstance, done: () => void): void {
    const clients = this.websocketServer.clients;
    for (const client of clients) client.close(1001, 'Server shutting down');
    const force = setTimeout(() => {
      for (const client of clients) client.terminate();
    }, CLOSE_HANDSHAKE_GRACE_MS);
    force.unref();
    this.websocketServer.close(() => clearTimeout(force));
    done();
  },
  errorHandler(this: unknown, error: Error, socket: import('ws').WebSocket, request: FastifyRequest): void {
    // A protocol error (frame too large, invalid UTF-8) already closes the socket with its code; log it, keep the process.
    request.log.info({ err: error }, 'websocket closed on a protocol error');
    if (socket.readyState === socket.OPEN) socket.close(1011, 'Internal error');
  },
};

/**
 * `GET /api/v1/ws` (§7.4): the chat and stream API over one WebSocket. Authentication happens
 * before the upgrade (a refused client gets the usual 401 body and no socket): a single-use
 * `?ticket=` (what browsers can send) or a bearer token (other clients).
 */
export async function websocketRoutes(app: App, context: HttpContext): Promise<void> {
  const users = new WeakMap<FastifyRequest, string>();
  app.get(
    '/ws',
    {
      websocket: true,
      config: { public: true, streamTicket: true },
      schema: { querystring: streamQuery.pick({ ticket: true }) },
      preHandler: async (request) => {
        const userId = await streamUserId(request, context.auth);
        if (!request.ws) throw validationError('This endpoint speaks WebSocket only: send an Upgrade request');
        users.set(request, userId);
      },
    },
    (socket, request) => {
      new WsConnection(context, socket, users.get(request)!, request.log);
    },
  );
}
