import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * How often the checkpointer copies the WAL back into the database file. Seldom enough that a page
 * rewritten by many commits (an index leaf, the newest table leaf) is copied once, not per commit.
 */
const CHECKPOINT_EVERY_MS = 5000;

/** Plain CommonJS run by the worker: no loader, no TypeScript, nothing of the server. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 100');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
}, workerData.everyMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * Checkpoints an SQLite WAL from a worker thread. SQLite's automatic checkpoint runs inside the
 * commit that crosses the threshold, on the event loop: copying megabytes back into the
 * database there stalls every stream for milliseconds. A PASSIVE checkpoint on a connection of
 * its own waits for no reader or writer.
 */
export function startCheckpointer(path: string): { stop(): Promise<void> } {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    execArgv: [],
    // It holds no data: a small heap keeps its memory to a few megabytes.
    resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
    workerData: { path, driver: createRequire(import.meta.url).resolve('better-sqlite3'), everyMs: CHECKPOINT_EVERY_MS },
  });
  worker.unref();
  // A checkpointer that cannot run leaves the connection's own (larger) automatic checkpoint as the safety net.
  worker.on('error', () => {});
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    stop: async () => {
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}
