import { type EventSourceMessage, EventSourceParserStream } from 'eventsource-parser/stream';
import { setTimeout as delay } from 'node:timers/promises';
import { CliError } from './exit-codes.js';

/** Reconnection attempts after a dropped stream (the server keeps every event: nothing is lost). */
const MAX_RECONNECTS = 8;
/** Waits double from 250 ms up to this, so a restarting server has about 20 s to come back. */
const MAX_BACKOFF_MS = 5000;

/**
 * The SSE messages of a stream that survives disconnects: when a response ends or breaks,
 * `open` is called again with the last event id seen, so the server resumes right after it.
 * Ends only when the consumer stops iterating (or `signal` aborts).
 */
export async function* resumableEvents(
  open: (lastEventId: string | undefined, attempt: number, signal: AbortSignal) => Promise<Response>,
  signal: AbortSignal,
): AsyncGenerator<EventSourceMessage> {
  let lastEventId: string | undefined;
  let failures = 0;
  for (let attempt = 0; ; attempt++) {
    const controller = new AbortController();
    const abort = () => controller.abort();
    signal.addEventListener('abort', abort, { once: true });
    try {
      const response = await open(lastEventId, attempt, controller.signal);
      const messages = response.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
      for await (const message of messages as unknown as AsyncIterable<EventSourceMessage>) {
        failures = 0;
        if (message.id) lastEventId = message.id;
        yield message;
      }
    } catch (error) {
      if (signal.aborted) return;
      // Refusals (4xx) are final; a broken connection or a server error is retried below.
      if (error instanceof CliError && !error.retryable) throw error;
    } finally {
      signal.removeEventListener('abort', abort);
      controller.abort();
    }
    if (signal.aborted) return;
    if (++failures > MAX_RECONNECTS) throw new CliError('lost the connection to the server (the run goes on there: watch it in the web app, or stop it)');
    await delay(Math.min(250 * 2 ** (failures - 1), MAX_BACKOFF_MS), undefined, { signal }).catch(() => {});
  }
}
