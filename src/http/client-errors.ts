import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { errorBodyFor } from './error-handler.js';
import { normalizedPath, surfaceOfPath } from './surface.js';

const PARSER_ERRORS: Record<string, { status: number; detail: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, detail: 'Request headers are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, detail: 'The request was not received in time' },
  HPE_URI_TOO_LONG: { status: 414, detail: 'The URL is too long' },
};

/**
 * Answers requests that Node's HTTP parser rejected before Fastify saw them (headers too large,
 * timeouts, garbage) with the error body of the surface the request line names and an
 * X-Request-Id, like every other response, then closes the connection.
 */
export function handleClientError(error: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const response = inFlightResponse(socket);
  if (response?.headersSent) {
    // The request already has its answer on the wire (a body cut short after a 413): a second one would corrupt it.
    socket.end();
    socket.setTimeout(1000, () => socket.destroy());
    return;
  }
  const { status, detail } = PARSER_ERRORS[error.code ?? ''] ?? { status: 400, detail: 'Malformed HTTP request' };
  const requestId = randomUUID();
  // A body cut short fails after its request line was parsed: the request in flight names the surface.
  const surface = surfaceOfPath(normalizedPath(response?.req?.url ?? requestTarget(error.rawPacket)));
  const body = JSON.stringify(errorBodyFor(surface, { status, code: 'VALIDATION_ERROR', detail }, requestId));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
  // Closing at once could reset the connection before the client reads the answer (unread request
  // bytes make the kernel send RST); give it a moment, then make sure the socket is gone.
  socket.setTimeout(1000, () => socket.destroy());
}

/** The response of the request the connection is carrying, if any (Node's own clientError default consults it too). */
function inFlightResponse(socket: Socket): { headersSent?: boolean; req?: { url?: string } } | undefined {
  return (socket as Socket & { _httpMessage?: { headersSent?: boolean; req?: { url?: string } } })._httpMessage;
}

/** The path of the request line in whatever the parser had received, or '' when there is none. */
function requestTarget(rawPacket: unknown): string {
  if (!Buffer.isBuffer(rawPacket)) return '';
  const line = rawPacket.subarray(0, 8192).toString('latin1').split('\r\n', 1)[0] ?? '';
  return /^[A-Z]+ (\S+) HTTP\/1\.[01]$/.exec(line)?.[1] ?? '';
}
