import WebSocket, { type ClientOptions } from 'ws';

/** A frame the server sent: an event `{event, id, data, session_id}` or a reply `{type, …}`. */
export type WsFrame = Record<string, any>;

/**
 * A real WebSocket client (the `ws` package) that collects frames so tests can wait for the
 * ones they need. A refused upgrade resolves too, with the HTTP status and error body.
 */
export class WsClient {
  readonly frames: WsFrame[] = [];
  /** Raw text of every frame, for byte-level checks. */
  readonly raw: string[] = [];
  pings = 0;
  closed?: { code: number; reason: string };
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const text = data.toString();
      this.raw.push(text);
      this.frames.push(JSON.parse(text));
      this.notify();
    });
    socket.on('ping', () => {
      this.pings++;
      this.notify();
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.notify();
    });
    socket.on('error', () => this.notify());
  }

  /** Opens `/api/v1/ws` on `baseUrl` (http URL) with `?ticket=` and/or other options. */
  static open(baseUrl: string, options: { ticket?: string; token?: string; query?: string; ws?: ClientOptions } = {}): Promise<{ client?: WsClient; status?: number; body?: any }> {
    const query = options.query ?? (options.ticket !== undefined ? `?ticket=${encodeURIComponent(options.ticket)}` : '');
    const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/v1/ws${query}`, { headers, ...options.ws });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve({ client: new WsClient(socket) }));
      socket.once('unexpected-response', (_request, response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode, body: text ? JSON.parse(text) : undefined }));
      });
      socket.once('error', (error) => reject(error));
    });
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Resolves when `predicate` holds for the frames collected so far (rejects after `timeoutMs`). */
  async waitFor(predicate: (frames: WsFrame[]) => boolean, timeoutMs = 15_000): Promise<WsFrame[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.frames)) {
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) before the condition held; got: ${this.describe()}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out waiting; got: ${this.describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.frames;
  }

  /** Waits for the first frame (received so far or later) matching `match`. */
  async next(match: (frame: WsFrame) => boolean, timeoutMs?: number): Promise<WsFrame> {
    const frames = await this.waitFor((all) => all.some(match), timeoutMs);
    return frames.find(match)!;
  }

  /** Sends a request and waits for its ack or error (the first one after sending, of that request type). */
  async request(frame: Record<string, unknown>, timeoutMs?: number): Promise<WsFrame> {
    const seen = this.frames.length;
    this.send(frame);
    const frames = await this.waitFor((all) => all.slice(seen).some((reply) => isReplyTo(reply, frame.type)), timeoutMs);
    return frames.slice(seen).find((reply) => isReplyTo(reply, frame.type))!;
  }

  /** An application-level ping: resolves on the server's `{type:"pong"}`. */
  async ping(timeoutMs?: number): Promise<void> {
    const seen = this.frames.length;
    this.send({ type: 'ping' });
    await this.waitFor((all) => all.slice(seen).some((frame) => frame.type === 'pong'), timeoutMs);
  }

  /** Sends a raw frame (text or binary) and waits for the next error frame. */
  async expectError(raw: string | Buffer, timeoutMs?: number): Promise<WsFrame> {
    const seen = this.frames.length;
    this.socket.send(raw);
    const frames = await this.waitFor((all) => all.slice(seen).some((reply) => reply.type === 'error'), timeoutMs);
    return frames.slice(seen).find((reply) => reply.type === 'error')!;
  }

  /** The session events (not replies) received so far, optionally of one session. */
  events(sessionId?: string): WsFrame[] {
    return this.frames.filter((frame) => frame.event !== undefined && (sessionId === undefined || frame.session_id === sessionId));
  }

  async waitForClose(timeoutMs = 15_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the socket did not close in time');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.closed;
  }

  close(): void {
    this.socket.close();
  }

  private notify(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  private describe(): string {
    return JSON.stringify(this.frames.map((frame) => frame.event ?? `${frame.type}:${frame.request_type ?? ''}:${frame.code ?? ''}`)).slice(0, 2000);
  }
}

const isReplyTo = (reply: WsFrame, type: unknown) => (reply.type === 'ack' || reply.type === 'error') && reply.request_type === type;
