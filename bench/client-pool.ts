/**
 * Worker threads that share the streams of one capacity probe (bench/client-worker.ts), so the
 * bench client can parse as many streams as the targets can serve. The threads belong to this
 * process: the client's CPU stays out of every target's /proc reading either way.
 */
import { Worker } from 'node:worker_threads';
import type { RunResult } from './sse-client.js';
import type { RunSpec } from './targets.js';
import type { WorkerRunReply, WorkerRunRequest } from './client-worker.js';

export interface PoolRun {
  results: RunResult[];
  /** Event-loop utilisation of each worker over the run; near 1 means the client was the bottleneck. */
  utilization: number[];
}

export class ClientPool {
  private nextId = 0;

  private constructor(private readonly workers: Worker[]) {}

  static async start(size: number): Promise<ClientPool> {
    // Worker threads do not inherit the parent's `--import tsx` hooks: register them first, then load the .ts worker.
    const tsx = import.meta.resolve('tsx/esm/api');
    const file = new URL('./client-worker.ts', import.meta.url).href;
    const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(file)}); })`;
    const workers = await Promise.all(
      Array.from(
        { length: size },
        () =>
          new Promise<Worker>((resolvePromise, reject) => {
            const worker = new Worker(bootstrap, { eval: true });
            worker.once('error', reject);
            worker.once('message', (message: { type: string }) => {
              if (message.type === 'ready') resolvePromise(worker);
            });
          }),
      ),
    );
    return new ClientPool(workers);
  }

  /** Runs all streams at once, dealt round-robin over the workers. */
  async run(specs: RunSpec[], expectedTokens: number, timeoutMs: number): Promise<PoolRun> {
    const shares = this.workers.map((): RunSpec[] => []);
    specs.forEach((spec, index) => shares[index % shares.length]!.push(spec));
    const replies = await Promise.all(
      this.workers.map(
        (worker, index) =>
          new Promise<WorkerRunReply>((resolvePromise, reject) => {
            const id = ++this.nextId;
            const onMessage = (message: WorkerRunReply) => {
              if (message.type !== 'done' || message.id !== id) return;
              worker.off('message', onMessage);
              worker.off('error', reject);
              resolvePromise(message);
            };
            worker.on('message', onMessage);
            worker.once('error', reject);
            const request: WorkerRunRequest = { type: 'run', id, specs: shares[index]!, expectedTokens, timeoutMs };
            worker.postMessage(request);
          }),
      ),
    );
    return { results: replies.flatMap((reply) => reply.results), utilization: replies.map((reply) => reply.utilization) };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
