import { ModelError, type ModelStreamEvent } from './types.js';

/**
 * Marks any ModelError thrown after the first yielded event as `started`, so the retry layer
 * never replays a turn whose deltas the caller has already consumed.
 */
export async function* markStarted(batches: AsyncIterable<ModelStreamEvent[]>): AsyncGenerator<ModelStreamEvent[]> {
  let started = false;
  try {
    for await (const batch of batches) {
      if (batch.length === 0) continue;
      started = true;
      yield batch;
    }
  } catch (error) {
    if (started && error instanceof ModelError && !error.options.started) {
      throw new ModelError(error.message, { ...error.options, started: true });
    }
    throw error;
  }
}
