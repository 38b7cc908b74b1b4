import type { ServerResponse } from 'node:http';

export interface SseWriterOptions {
  heartbeatMs: number;
  /** Past this many unflushed bytes the client is too slow: it is disconnected and resumes by cursor. */
  maxBufferedBytes: number;
}

/**
 * Writes Server-Sent Events to a raw Node response. It never buffers without bound: a stalled
 * client is cut off instead, which is safe because every stream is resumable by cursor.
 */
export class SseWriter {
  private heartbeat: NodeJS.Timeout;
  private closedFlag = false;
  private readonly closeListeners: Array<() => void> = [];

  constructor(
    private readonly response: ServerResponse,
    private readonly options: SseWriterOptions,
  ) {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.flushHeaders();
    response.socket?.setNoDelay(true);
    this.heartbeat = setInterval(() => this.comment('ping'), options.heartbeatMs);
    this.heartbeat.unref();
    response.on('close', () => this.markClosed());
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  onClose(listener: () => void): void {
    if (this.closedFlag) listener();
    else this.closeListeners.push(listener);
  }

  /** One frame; `event` omitted for the unnamed frames of the Service API stream. */
  send(id: string | number, event: string | null, json: string): void {
    this.write(event === null ? `id: ${id}\ndata: ${json}\n\n` : `id: ${id}\nevent: ${event}\ndata: ${json}\n\n`);
  }

  comment(text: string): void {
    this.write(`: ${text}\n\n`);
  }

  /** Ends the stream, optionally with a final comment (e.g. on shutdown). */
  end(finalComment?: string): void {
    if (this.closedFlag) return;
    if (finalComment) this.response.write(`: ${finalComment}\n\n`);
    this.response.end();
    this.markClosed();
  }

  private write(text: string): void {
    if (this.closedFlag) return;
    if (this.response.writableLength > this.options.maxBufferedBytes) {
      this.response.destroy();
      this.markClosed();
      return;
    }
    this.response.write(text);
  }

  private markClosed(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    clearInterval(this.heartbeat);
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}
