import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface SseEvent {
  id?: string;
  event?: string;
  data: any;
  raw: string;
}

/**
 * A real SSE client over fetch: frames are parsed by eventsource-parser exactly as a browser
 * would, then collected so tests can wait for the ones they need.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  status = 0;
  headers?: Headers;
  errorBody?: any;
  private readonly controller = new AbortController();
  private waiters: Array<() => void> = [];
  ended = false;
  done: Promise<void>;

  private constructor(private readonly request: () => Promise<Response>) {
    this.done = Promise.resolve();
  }

  static async open(url: string, options: { token?: string; lastEventId?: string | number; method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<SseClient> {
    const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.lastEventId !== undefined) headers['last-event-id'] = String(options.lastEventId);
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let client!: SseClient;
    client = new SseClient(() =>
      fetch(url, {
        method: options.method ?? 'GET',
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: client.controller.signal,
      }),
    );
    const response = await client.request();
    client.status = response.status;
    client.headers = response.headers;
    if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      const text = await response.text();
      client.errorBody = text ? JSON.parse(text) : undefined;
      client.ended = true;
      return client;
    }
    client.done = client.consume(response);
    return client;
  }

  private async consume(response: Response): Promise<void> {
    const parser = createParser({
      onEvent: (message: EventSourceMessage) => {
        this.events.push({ id: message.id, event: message.event, data: JSON.parse(message.data), raw: message.data });
        this.notify();
      },
      onComment: (comment) => {
        this.comments.push(comment.trim());
        this.notify();
      },
    });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      // Aborted by close() or cut by the server: either way the stream is over.
    } finally {
      this.ended = true;
      this.notify();
    }
  }

  private notify(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Resolves when `predicate` holds for the collected events (or rejects after `timeoutMs`). */
  async waitFor(predicate: (events: SseEvent[]) => boolean, timeoutMs = 15_000): Promise<SseEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.events)) {
      if (this.ended) throw new Error(`stream ended before the condition held; got: ${this.describe()}`);
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
    return this.events;
  }

  waitForEvent(name: string, timeoutMs?: number): Promise<SseEvent[]> {
    return this.waitFor((events) => events.some((event) => (event.event ?? event.data?.type) === name), timeoutMs);
  }

  /** Waits until the server ends the stream. */
  async waitForEnd(timeoutMs = 15_000): Promise<void> {
    await this.waitFor(() => this.ended, timeoutMs).catch((error) => {
      if (!this.ended) throw error;
    });
  }

  close(): void {
    this.controller.abort();
  }

  private describe(): string {
    return JSON.stringify(this.events.map((event) => event.event ?? event.data?.type)).slice(0, 2000);
  }
}
