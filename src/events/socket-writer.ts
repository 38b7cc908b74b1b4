import { CloseListeners } from './close-listeners.js';
import type { WebSocket } from 'ws';
import type { StreamWriter } from './stream.js';

export interface SocketChannelOptions {
  /** A ping every this often; a client that has not answered the previous one is cut off. */
  heartbeatMs: number;
  /** Past this many unflushed bytes the client is too slow: it is disconnected and resumes by cursor. */
  maxBufferedBytes: number;
  /** How long `drained()` waits for a client that reads nothing before cutting it off. */
  stallTimeoutMs: number;
}

/** Replay writes pause above this many unflushed bytes (or a quarter of the cut-off), as on SSE. */
const REPLAY_HIGH_WATER_BYTES = 64 * 1024;

/**
 * The outgoing side of one WebSocket: JSON text frames with the same back-pressure rules as
 * SseWriter (never buffer without bound: a stalled client is cut off and resumes by cursor),
 * plus a ping/pong keepalive that also detects dead peers.
 */
export class SocketChannel {
  private readonly heartbeat: NodeJS.Timeout;
  private closedFlag = false;
  private awaitingPong = false;
  private readonly closeListeners = new CloseListeners();
  private readonly drainWaiters: Array<() => void> = [];

  constructor(
    private readonly socket: WebSocket,
    private readonly options: SocketChannelOptions,
  ) {
    socket.on('pong', () => (this.awaitingPong = false));
    socket.on('close', () => this.markClosed());
    this.heartbeat = setInterval(() => {
      if (this.awaitingPong) return this.cut();
      this.awaitingPong = true;
      socket.ping();
    }, options.heartbeatMs);
    this.heartbeat.unref();
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  onClose(listener: () => void): () => void {
    return this.closeListeners.add(listener);
  }

  get needsDrain(): boolean {
    return !this.closedFlag && this.socket.bufferedAmount > Math.min(REPLAY_HIGH_WATER_BYTES, this.options.maxBufferedBytes / 4);
  }

  /** Resolves once the client has read what was written (or the socket closed); cuts off a client that reads nothing. */
  drained(): Promise<void> {
    if (!this.needsDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(stall);
        const index = this.drainWaiters.indexOf(done);
        if (index >= 0) this.drainWaiters.splice(index, 1);
        forget();
        resolve();
      };
      const stall = setTimeout(() => {
        this.cut();
        done();
      }, this.options.stallTimeoutMs);
      this.drainWaiters.push(done);
      const forget = this.onClose(done);
    });
  }

  /** One text frame (JSON). */
  send(text: string): void {
    if (this.closedFlag || this.socket.readyState !== this.socket.OPEN) return;
    if (this.socket.bufferedAmount > this.options.maxBufferedBytes) return this.cut();
    this.socket.send(text, this.flushed);
  }

  /** Closes with a status code and reason (the client sees both). */
  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  /** One callback for every send: wakes drain waiters once the buffer is low again. */
  private readonly flushed = (): void => {
    if (this.drainWaiters.length > 0 && !this.needsDrain) for (const waiter of [...this.drainWaiters]) waiter();
  };

  private cut(): void {
    this.socket.terminate();
    this.markClosed();
  }

  private markClosed(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    clearInterval(this.heartbeat);
    this.closeListeners.close();
  }
}

/**
 * One session followed on a WebSocket: the StreamWriter that replay-then-live writes to. Its
 * frames are `{event, id, data, session_id}`; ending it (unsubscribe) leaves the socket open.
 */
export class SessionSubscription implements StreamWriter {
  private endedFlag = false;
  private readonly closeListeners = new CloseListeners();
  private readonly sessionJson: string;

  constructor(
    private readonly channel: SocketChannel,
    readonly sessionId: string,
  ) {
    this.sessionJson = JSON.stringify(sessionId);
    channel.onClose(() => this.end());
  }

  /** `json` is the stored event JSON: spliced in as is, so it is serialized once. */
  send(id: string | number, event: string | null, json: string): void {
    if (this.closed) return;
    this.channel.send(`{"event":${JSON.stringify(event)},"id":${JSON.stringify(id)},"data":${json},"session_id":${this.sessionJson}}`);
  }

  get closed(): boolean {
    return this.endedFlag || this.channel.closed;
  }

  onClose(listener: () => void): () => void {
    return this.closeListeners.add(listener);
  }

  get needsDrain(): boolean {
    return !this.closed && this.channel.needsDrain;
  }

  /** Also settles when this subscription ends while the socket stays full. */
  drained(): Promise<void> {
    if (!this.needsDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const forget = this.onClose(resolve);
      void this.channel.drained().then(() => {
        forget();
        resolve();
      });
    });
  }

  end(): void {
    if (this.endedFlag) return;
    this.endedFlag = true;
    this.closeListeners.close();
  }
}
