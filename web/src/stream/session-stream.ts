import { ApiError } from '../api/client';
import { sessionDetails, streamTicket } from '../api/endpoints';

export interface StreamEvent {
  /** The cursor of the event (SPEC §7.1); null only for frames without an id. */
  id: number | null;
  event: string;
  data: any;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'offline' | 'closed';

/** Every named frame of the session stream (SPEC §5.1, §7.2). */
const EVENT_NAMES = [
  'status',
  'reset',
  'thinking',
  'tool_call',
  'tool_result',
  'content',
  'confirm_required',
  'confirm_resolved',
  'working_memory',
  'artifact',
  'done',
] as const;

const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000, 15000];

export interface SessionStreamOptions {
  sessionId: string;
  /** Resume after this cursor; without it the server starts with a `status` frame, then live. */
  after?: number;
  onEvent(event: StreamEvent): void;
  onConnection?(state: ConnectionState): void;
  /** The session is gone or no longer ours: the stream will not come back. */
  onFatal?(error: ApiError): void;
}

/**
 * The session stream over EventSource. A browser EventSource cannot send the bearer token, so
 * each connection uses a fresh single-use stream ticket; that is also why the browser's own
 * reconnect (same URL, spent ticket) is never used: on any error the source is closed, and a new
 * one opens with a new ticket and `last_event_id` = the last cursor seen. The server replays from
 * there, so nothing is missed; frames at or before that cursor (none are expected) are dropped,
 * so nothing is applied twice.
 */
export class SessionStream {
  private source: EventSource | null = null;
  private cursor: number | undefined;
  private failures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  /** A ticket is being fetched: at most one connection attempt at a time. */
  private connecting = false;

  constructor(private readonly options: SessionStreamOptions) {
    this.cursor = options.after;
  }

  /** The last cursor applied. */
  get lastCursor(): number | undefined {
    return this.cursor;
  }

  start(): void {
    window.addEventListener('online', this.reconnectNow);
    window.addEventListener('offline', this.dropConnection);
    void this.connect();
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    window.removeEventListener('online', this.reconnectNow);
    window.removeEventListener('offline', this.dropConnection);
    this.source?.close();
    this.source = null;
    this.options.onConnection?.('closed');
  }

  private readonly reconnectNow = () => {
    if (this.stopped || this.source || this.connecting) return;
    clearTimeout(this.retryTimer);
    void this.connect();
  };

  /**
   * The browser lost its network: a connection that looks open may be dead and only time out
   * minutes later, so it is closed now and reopened (with the cursor) once the network is back.
   */
  private readonly dropConnection = () => {
    if (this.stopped || !this.source) return;
    this.source.close();
    this.source = null;
    void this.retryLater();
  };

  private async connect(): Promise<void> {
    if (this.stopped || this.source || this.connecting) return;
    clearTimeout(this.retryTimer);
    this.options.onConnection?.(this.failures === 0 ? 'connecting' : 'reconnecting');
    let ticket: string;
    this.connecting = true;
    try {
      ticket = (await streamTicket()).ticket;
    } catch (error) {
      this.connecting = false;
      if (error instanceof ApiError && error.status === 401) return this.fail(error);
      return this.retryLater();
    }
    this.connecting = false;
    if (this.stopped) return;
    const query = new URLSearchParams({ ticket });
    if (this.cursor !== undefined) query.set('last_event_id', String(this.cursor));
    const source = new EventSource(`/api/v1/sessions/${encodeURIComponent(this.options.sessionId)}/stream?${query}`);
    this.source = source;
    source.onopen = () => {
      this.failures = 0;
      this.options.onConnection?.('open');
    };
    const onFrame = (event: Event) => {
      if (this.source === source) this.receive(event as MessageEvent<string>);
    };
    for (const name of EVENT_NAMES) source.addEventListener(name, onFrame);
    // `error` is both the run's `event: error` frame (a MessageEvent) and a broken connection.
    source.addEventListener('error', (event) => {
      if (this.source !== source) return;
      if (event instanceof MessageEvent) return this.receive(event as MessageEvent<string>);
      source.close();
      this.source = null;
      this.retryLater();
    });
  }

  private receive(message: MessageEvent<string>): void {
    const id = message.lastEventId === '' ? null : Number(message.lastEventId);
    const isReset = message.type === 'reset';
    if (!isReset && id !== null && this.cursor !== undefined && id <= this.cursor) return;
    let data: unknown;
    try {
      data = JSON.parse(message.data);
    } catch {
      return;
    }
    if (id !== null) this.cursor = isReset ? id : Math.max(this.cursor ?? id, id);
    this.options.onEvent({ id, event: message.type, data });
  }

  private async retryLater(): Promise<void> {
    if (this.stopped) return;
    this.failures++;
    // A session that was deleted, or is no longer shared with us, will not come back.
    if (this.failures >= 2 && navigator.onLine) {
      try {
        await sessionDetails(this.options.sessionId);
      } catch (error) {
        if (error instanceof ApiError && [401, 403, 404].includes(error.status)) return this.fail(error);
      }
      if (this.stopped) return;
    }
    if (this.source || this.connecting) return;
    this.options.onConnection?.(navigator.onLine ? 'reconnecting' : 'offline');
    clearTimeout(this.retryTimer);
    const base = RETRY_DELAYS_MS[Math.min(this.failures - 1, RETRY_DELAYS_MS.length - 1)]!;
    // While offline the `online` event reconnects at once; the timer is the fallback.
    this.retryTimer = setTimeout(() => void this.connect(), base * (0.75 + Math.random() * 0.5));
  }

  private fail(error: ApiError): void {
    this.close();
    this.options.onFatal?.(error);
  }
}
