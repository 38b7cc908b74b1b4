/**
 * One sample: `count` concurrent runs against one target, with the target's CPU, memory and
 * storage writes read from outside (/proc, PostgreSQL) around exactly the window in which it
 * relays. Every run is verified (all tokens, in order, then `done`); a sample with problems
 * carries them in `failures` instead of throwing, so the caller decides what a failure means.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { FakeTurn } from '../test/support/fake-openai.js';
import type { ClientPool } from './client-pool.js';
import { backendCpuDelta } from './database.js';
import type { FakeModel } from './model-process.js';
import { cpuDeltaMs, readCpu, readIo, sampleMemory } from './proc.js';
import { runStream, type RunResult } from './sse-client.js';
import { settings } from './settings.js';
import { median, percentile } from './stats.js';
import type { Target } from './targets.js';

export interface Sample {
  ttftMs: number;
  latP50: number;
  latP99: number;
  cpuMs: number;
  cpuPer1k: number;
  peakRss: number;
  hwm: number;
  hwmReset: boolean;
  tokPerSec: number;
  /** PostgreSQL backends' CPU per 1000 tokens (NaN when not applicable). */
  dbCpuPer1k: number;
  /** write()-syscall bytes (sockets + files) and storage write_bytes of the target process per 1000 tokens, KB. */
  wcharKbPer1k: number;
  diskKbPer1k: number;
  syscwPer1k: number;
  /** Bytes that reached storage per token: write_bytes (SQLite, floor) or cluster WAL (PostgreSQL). */
  storageBytesPerToken: number;
  /** Median over runs of content events per second from first to last token. */
  streamRate: number;
  /** Fake model CPU as a share of one core over the window (it is shared by every target). */
  modelCpuShare: number;
  /** Busiest client event loop's utilisation over the window (1 = the client was saturated). */
  clientUtilization: number;
  wallMs: number;
  tokens: number;
  failures: string[];
}

/** Time after the last `done` during which the target's CPU still counts (its trailing bookkeeping). */
export const SETTLE_MS = 150;

export interface MeasureOptions {
  count: number;
  turn: FakeTurn;
  expectedTokens: number;
  /** Worker-thread client for many streams; default: streams parsed on this thread. */
  pool?: ClientPool;
  /** Called as the measured window opens and closes (after set-up; after the settle time), e.g. to profile just that window. */
  window?: { opened(): Promise<void>; closed(): Promise<void> };
}

export async function measure(target: Target, fake: FakeModel, options: MeasureOptions): Promise<Sample> {
  await fake.setTurn(options.turn);
  const specs = await target.prepare(options.count);
  await delay(SETTLE_MS); // let set-up work finish before the CPU window opens
  await options.window?.opened();
  const memory = sampleMemory(target.pid);
  const dbBefore = await target.backendCpu?.();
  const storageBefore = await target.storageBytes();
  const cpuBefore = readCpu(target.pid);
  const modelBefore = readCpu(fake.pid);
  const ioBefore = readIo(target.pid);
  const loopBefore = performance.eventLoopUtilization();
  const startedAt = performance.now();
  let results: RunResult[];
  let clientUtilization: number;
  if (options.pool) {
    const run = await options.pool.run(specs, options.expectedTokens, settings.runTimeoutMs);
    results = run.results;
    clientUtilization = Math.max(...run.utilization);
  } else {
    results = await Promise.all(
      specs.map((spec) => runStream(spec.url, { token: spec.token, body: spec.body, expectedTokens: options.expectedTokens, timeoutMs: settings.runTimeoutMs })),
    );
    clientUtilization = performance.eventLoopUtilization(loopBefore).utilization;
  }
  const wallMs = performance.now() - startedAt;
  const modelAfter = readCpu(fake.pid);
  const received = results.reduce((sum, result) => sum + result.contentCount, 0);
  await delay(SETTLE_MS);
  const cpuAfter = readCpu(target.pid);
  const ioAfter = readIo(target.pid);
  const storageAfter = await target.storageBytes();
  const dbAfter = await target.backendCpu?.();
  const mem = memory.stop();
  await options.window?.closed();
  const perK = (before: number | undefined, after: number | undefined, unit = 1) =>
    before === undefined || after === undefined || received === 0 ? Number.NaN : (after - before) / unit / (received / 1000);

  const latencies = results.flatMap((result) => result.latencies);
  const cpuMs = cpuDeltaMs(cpuBefore, cpuAfter);
  const failures = results.flatMap((result, index) => result.problems.map((problem) => `run ${index + 1}/${options.count}: ${problem}`));
  return {
    ttftMs: median(results.map((result) => result.firstContentAt - result.startedAt)),
    latP50: percentile(latencies, 50),
    latP99: percentile(latencies, 99),
    cpuMs,
    cpuPer1k: received > 0 ? cpuMs / (received / 1000) : Number.NaN,
    peakRss: mem.peakRss,
    hwm: mem.hwm,
    hwmReset: mem.hwmReset,
    tokPerSec: received / (wallMs / 1000),
    dbCpuPer1k: dbBefore && dbAfter && received > 0 ? backendCpuDelta(dbBefore, dbAfter) / (received / 1000) : Number.NaN,
    wcharKbPer1k: perK(ioBefore?.wchar, ioAfter?.wchar, 1024),
    diskKbPer1k: perK(ioBefore?.writeBytes, ioAfter?.writeBytes, 1024),
    syscwPer1k: perK(ioBefore?.syscw, ioAfter?.syscw),
    storageBytesPerToken: perK(storageBefore, storageAfter) / 1000,
    streamRate: median(
      results.filter((result) => result.contentCount > 1).map((result) => (result.contentCount - 1) / ((result.lastContentAt - result.firstContentAt) / 1000)),
    ),
    modelCpuShare: cpuDeltaMs(modelBefore, modelAfter) / wallMs,
    clientUtilization,
    wallMs,
    tokens: received,
    failures,
  };
}
