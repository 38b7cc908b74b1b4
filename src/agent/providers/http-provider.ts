import type { EventSourceMessage } from 'eventsource-parser';
import type { HttpProviderOptions } from './http-provider-options.js';
import { markStarted } from './stream-guard.js';
import type { ModelProvider, ModelRequest, ModelStreamEvent } from './types.js';

/** What every HTTP streaming provider shares: its identity and the started-output guard. */
export abstract class HttpStreamingProvider implements ModelProvider {
  readonly name: string;
  readonly model: string;
  readonly supportsVision: boolean;
  readonly contextWindow: number;

  constructor(protected readonly options: HttpProviderOptions) {
    this.name = options.name;
    this.model = options.model;
    this.supportsVision = options.supportsVision;
    this.contextWindow = options.contextWindow;
  }

  stream(request: ModelRequest): AsyncIterable<ModelStreamEvent[]> {
    return markStarted(this.streamTurn(request));
  }

  protected abstract streamTurn(request: ModelRequest): AsyncIterable<ModelStreamEvent[]>;
}

/**
 * Folds batches of server-sent events into batches of model events. `accept` adds the events of
 * one message and says whether the turn ended; `atEnd` adds the last ones, or throws, when the
 * stream ends first. Events folded before a message that throws still reach the caller first.
 */
export async function* foldServerSentEvents(
  batches: AsyncIterable<EventSourceMessage[]>,
  accept: (message: EventSourceMessage, events: ModelStreamEvent[]) => boolean,
  atEnd: (events: ModelStreamEvent[]) => void,
): AsyncGenerator<ModelStreamEvent[]> {
  for await (const messages of batches) {
    const events: ModelStreamEvent[] = [];
    let ended = false;
    try {
      for (const message of messages) if ((ended = accept(message, events))) break;
    } catch (error) {
      if (events.length > 0) yield events;
      throw error;
    }
    if (events.length > 0) yield events;
    if (ended) return;
  }
  const events: ModelStreamEvent[] = [];
  atEnd(events);
  yield events;
}
