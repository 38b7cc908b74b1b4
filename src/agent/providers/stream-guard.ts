import { ModelError, type ModelStreamEvent } from './types.js';

/**
 * Marks any ModelError thrown after the first yielded event as `started`, so the retry layer
 * never replays a turn whose deltas the caller has already consumed.
 */
export async function* markStarted(events: AsyncIterable<ModelStreamEvent>): AsyncGenerator<ModelStreamEvent> {
  let started = false;
  try {
    for await (const event of events) {
      started = true;
      yield event;
    }
  } catch (error) {
    if (started && error instanceof ModelError && !error.options.started) {
      throw new ModelError(error.message, { ...error.options, started: true });
    }
    throw error;
  }
}
