/**
 * One thread of the capacity client (bench/client-pool.ts). Hundreds of SSE streams parsed on a
 * single event loop would make the bench client, not the target, the thing that falls behind;
 * each worker runs its share of the streams on its own loop and reports how busy that loop was.
 *
 *   parent → worker  { type: 'run', id, specs, expectedTokens, timeoutMs }
 *   worker → parent  { type: 'ready' } once loaded; { type: 'done', id, results, utilization }
 */
import { parentPort } from 'node:worker_threads';
import { agent, runStream, type RunResult } from './sse-client.js';
import type { RunSpec } from './targets.js';

export interface WorkerRunRequest {
  type: 'run';
  id: number;
  specs: RunSpec[];
  expectedTokens: number;
  timeoutMs: number;
}

export interface WorkerRunReply {
  type: 'done';
  id: number;
  results: RunResult[];
  /** Share of the run's wall time this worker's event loop was busy (1 = saturated). */
  utilization: number;
}

const port = parentPort;
if (!port) throw new Error('client-worker.ts runs as a worker thread of bench/client-pool.ts');

port.on('message', (message: WorkerRunRequest | { type: 'close' }) => {
  if (message.type === 'close') {
    agent.destroy();
    port.close();
    return;
  }
  const start = performance.eventLoopUtilization();
  void Promise.all(
    message.specs.map((spec) => runStream(spec.url, { token: spec.token, body: spec.body, expectedTokens: message.expectedTokens, timeoutMs: message.timeoutMs })),
  ).then((results) => {
    const reply: WorkerRunReply = { type: 'done', id: message.id, results, utilization: performance.eventLoopUtilization(start).utilization };
    port.postMessage(reply);
  });
});

port.postMessage({ type: 'ready' });
