import { CloseListeners } from './close-listeners.js';
import type { ServerResponse } from 'node:http';
import type { StreamWriter } from './stream.js';

export interface SseWriterOptions {
  heartbeatMs: number;
  /** Past this many unflushed bytes the client is too slow: it is disconnected and resumes by cursor. */
  maxBufferedBytes: number;
  /** How long `drained()` waits for a client that reads nothing before cutting it off. */
  stallTimeoutMs: number;
}

/** Replay writes pause above this many unflushed bytes (or a quarter of the cut-off) until the client has read them. */
const REPLAY_HIGH_WATER_BYTES = 64 * 1024;
/** Frames of one tick are joined into one write; past this size they are written at once. */
const COALESCE_BYTES = 16 * 1024;

/** What goes between a frame's id and its data, per event name (a handful): made once, not per frame. */
const frameMiddles = new Map<string, string>();
function frameMiddle(event: string): string {
  let middle = frameMiddles.get(event);
  if (middle === undefined) frameMiddles.set(event, (middle = `\nevent: ${event}\ndata: `));
  return middle;
}

/**
 * Writes Server-Sent Events to a raw Node response. It never buffers without bound: a stalled
 * client is cut off instead, which is safe because every stream is resumable by cursor.
 */
export class SseWriter implements StreamWriter {
  private heartbeat: NodeJS.Timeout;
  private closedFlag = false;
  /** Frames written in this tick, sent as one chunk by `flush` (one chunk header, one syscall). */
  private unsent = '';
  private flushScheduled = false;
  private readonly flushNow = () => {
    this.flushScheduled = false;
    this.flush();
  };
  private readonly closeListeners = new CloseListeners();

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
    response.socket?.setNoDelay(true);
    // Headers plus a first line at once: proxies (Vite's dev proxy, nginx) pass the stream on only once a body byte arrives.
    response.write(': connected\n\n');
    this.heartbeat = setInterval(() => this.comment('ping'), options.heartbeatMs);
    this.heartbeat.unref();
    response.on('close', () => this.markClosed());
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Calls `listener` once the stream closes; returns a function that forgets it. */
  onClose(listener: () => void): () => void {
    return this.closeListeners.add(listener);
  }

  /** True when a bulk writer (replay) should wait for `drained()` before writing more. */
  get needsDrain(): boolean {
    return !this.closedFlag && this.response.writableLength + this.unsent.length > Math.min(REPLAY_HIGH_WATER_BYTES, this.options.maxBufferedBytes / 4);
  }

  /**
   * Resolves once the client has read what was written (or the stream closed). A client that
   * reads nothing for `stallTimeoutMs` is disconnected: it can resume later by cursor.
   */
  drained(): Promise<void> {
    this.flush();
    if (!this.needsDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(stall);
        this.response.off('drain', done);
        forget();
        resolve();
      };
      const stall = setTimeout(() => {
        this.response.destroy();
        this.markClosed();
        done();
      }, this.options.stallTimeoutMs);
      this.response.on('drain', done);
      const forget = this.onClose(done);
    });
  }

  /** One frame; `event` omitted for the unnamed frames of the Service API stream. */
  send(id: string | number, event: string | null, json: string): void {
    this.write('id: ' + id + (event === null ? '\ndata: ' : frameMiddle(event)) + json + '\n\n');
  }

  comment(text: string): void {
    this.write(`: ${text}\n\n`);
  }

  /** Ends the stream, optionally with a final comment (e.g. on shutdown). */
  end(finalComment?: string): void {
    if (this.closedFlag) return;
    if (finalComment) this.unsent += `: ${finalComment}\n\n`;
    this.response.end(this.unsent);
    this.unsent = '';
    this.markClosed();
  }

  private write(text: string): void {
    if (this.closedFlag) return;
    if (this.response.writableLength + this.unsent.length > this.options.maxBufferedBytes) {
      this.response.destroy();
      this.markClosed();
      return;
    }
    // Frames written in the same tick (a replay page, a burst of events) leave as one chunk: Node's
    // per-write cost (chunk framing, a buffer per string) is paid once, not per frame.
    this.unsent += text;
    if (this.unsent.length >= COALESCE_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushNow);
    }
  }

  private flush(): void {
    if (this.unsent === '' || this.closedFlag) return;
    const text = this.unsent;
    this.unsent = '';
    this.response.write(text);
  }

  private markClosed(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.unsent = '';
    clearInterval(this.heartbeat);
    this.closeListeners.close();
  }
}
