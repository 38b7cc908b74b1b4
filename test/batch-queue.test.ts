import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BatchQueue } from '../src/core/batch-queue.js';

/** A queue whose batches are recorded, answering each request with its doubled value unless it is negative. */
function recordingQueue(maxBatch: number) {
  const batches: number[][] = [];
  const queue = new BatchQueue<{ key: string; value: number }, number>(
    async (requests) => {
      batches.push(requests.map((request) => request.value));
      await new Promise((resolve) => setTimeout(resolve, 5));
      const bad = requests.find((request) => request.value < 0);
      if (bad) throw new Error(`bad value ${bad.value}`);
      return requests.map((request) => request.value * 2);
    },
    maxBatch,
    (request) => request.key,
  );
  return { batches, submit: (value: number, key = `k${value}`) => queue.submit({ key, value }) };
}

describe('batch queue (statements shared by the requests of the same moment)', () => {
  test('a request at rest goes alone at once; those arriving meanwhile share the next batch, each answered with its own result', async () => {
    const { batches, submit } = recordingQueue(100);
    const results = await Promise.all([1, 2, 3, 4, 5].map((value) => submit(value)));
    assert.deepEqual(results, [2, 4, 6, 8, 10]);
    assert.deepEqual(batches, [[1], [2, 3, 4, 5]]);
    assert.equal(await submit(6), 12);
    assert.deepEqual(batches.at(-1), [6]);
  });

  test('batches are bounded, and requests of one key never share one (the later waits, order kept)', async () => {
    const { batches, submit } = recordingQueue(2);
    const results = await Promise.all([submit(1), submit(2), submit(3), submit(4), submit(5, 'k4'), submit(6)]);
    assert.deepEqual(results, [2, 4, 6, 8, 10, 12]);
    assert.deepEqual(batches, [[1], [2, 3], [4, 6], [5]]);
  });

  test('a failed batch is retried a request at a time: only the bad request fails, with its own error', async () => {
    const { batches, submit } = recordingQueue(100);
    const settled = await Promise.allSettled([submit(1), submit(2), submit(-3), submit(4)]);
    assert.deepEqual(
      settled.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : (outcome.reason as Error).message)),
      [2, 4, 'bad value -3', 8],
    );
    assert.deepEqual(batches, [[1], [2, -3, 4], [2], [-3], [4]]);
    assert.equal(await submit(7), 14, 'the queue goes on after a failure');
  });
});
