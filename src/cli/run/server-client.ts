import { CliError, EXIT } from './exit-codes.js';

/**
 * The CLI's HTTP client for one TokenDance server: JSON requests and SSE responses, with the
 * server's error message (either surface's error body) turned into a CliError.
 */
export class ServerClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  async json<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, { body, accept: 'application/json' });
    const text = await response.text();
    if (!response.ok) throw this.refusal(method, path, response.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Opens an SSE response; refuses anything that is not an event stream. */
  async stream(method: string, path: string, options: { body?: unknown; lastEventId?: string; signal?: AbortSignal } = {}): Promise<Response> {
    const response = await this.send(method, path, { ...options, accept: 'text/event-stream' });
    if (!response.ok || !(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      throw this.refusal(method, path, response.status, await response.text().catch(() => ''));
    }
    return response;
  }

  private async send(method: string, path: string, options: { body?: unknown; accept: string; lastEventId?: string; signal?: AbortSignal }): Promise<Response> {
    const headers: Record<string, string> = { accept: options.accept };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal,
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `cannot reach the server at ${this.baseUrl} (${cause?.code ?? cause?.message ?? (error as Error).message}): is it running? Start it with "tokendance serve" or pass --server URL`,
        EXIT.failed,
        true,
      );
    }
  }

  private refusal(method: string, path: string, status: number, text: string): CliError {
    let message = text.slice(0, 300);
    try {
      const body = JSON.parse(text) as { detail?: string; error?: string };
      message = body.detail ?? body.error ?? message;
    } catch {
      // Not JSON (a proxy's page): show its start.
    }
    const hint = status === 401 ? (this.token ? ' (is the token valid and unexpired?)' : ': pass --token or set TOKENDANCE_TOKEN') : '';
    return new CliError(`${method} ${path} failed with ${status}: ${message}${hint}`, EXIT.failed, status >= 500);
  }
}
