/**
 * Capacity (issue 8 item 4): the largest number of concurrent paced streams (100 tokens/s each)
 * a target sustains. A probe at N streams passes when every token of every stream arrives, in
 * order, followed by `done`; the pooled token latency p99 stays under BENCH_CAPACITY_MAX_P99_MS;
 * and the streams are delivered at ≥ BENCH_CAPACITY_MIN_RATE tokens/s (a fake model starved of
 * CPU otherwise "passes" by offering less load than claimed). Steps go up through
 * BENCH_CAPACITY_STEPS and stop at the first failure, then bisect between the last pass and that
 * failure BENCH_CAPACITY_REFINE times for a finer number.
 *
 * The client is a pool of worker threads (BENCH_CLIENT_WORKERS); each probe records how busy the
 * busiest client loop was, so a result capped by the client rather than the target shows.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { ClientPool } from '../client-pool.js';
import type { FakeModel } from '../model-process.js';
import { measure, type Sample } from '../measure.js';
import { type DatabaseKind, settings, type TargetName } from '../settings.js';
import { fmt, median } from '../stats.js';
import type { Target } from '../targets.js';

export interface CapacityProbe {
  streams: number;
  sample: Sample;
  pass: boolean;
  reasons: string[];
}

export interface CapacityResult {
  label: string;
  name: TargetName;
  database?: DatabaseKind;
  /** Median over BENCH_CAPACITY_REPEAT searches of the largest passing count (0 when none passed). */
  sustained: number;
  searches: Array<{ sustained: number; firstFailure?: number }>;
  probes: CapacityProbe[];
}

/** Let the previous probe's runs finish their bookkeeping before the next one starts. */
const PAUSE_BETWEEN_PROBES_MS = 500;

function judge(sample: Sample): string[] {
  const reasons: string[] = [];
  if (sample.failures.length) reasons.push(`${sample.failures.length} delivery problems (${sample.failures[0]})`);
  if (!(sample.latP99 < settings.capacity.maxP99Ms)) reasons.push(`p99 ${fmt(sample.latP99)} ms ≥ ${settings.capacity.maxP99Ms}`);
  if (settings.capacity.minRate > 0 && !(sample.streamRate >= settings.capacity.minRate)) {
    reasons.push(`delivered at ${fmt(sample.streamRate, 0)} tok/s per stream < ${settings.capacity.minRate}`);
  }
  return reasons;
}

/** Busy share of one core over the probe: the target (plus its PG backends), the fake model, the busiest client loop. */
export function loadText(sample: Sample): string {
  const dbMs = Number.isFinite(sample.dbCpuPer1k) ? (sample.dbCpuPer1k * sample.tokens) / 1000 : 0;
  const target = (sample.cpuMs + dbMs) / sample.wallMs;
  return `cpu target ${fmt(100 * target, 0)}% model ${fmt(100 * sample.modelCpuShare, 0)}% client loop ${fmt(100 * sample.clientUtilization, 0)}%`;
}

/** The next count to try between a pass and a failure, on a round number when the gap allows. */
function midpoint(pass: number, fail: number): number {
  const exact = (pass + fail) / 2;
  return fail - pass >= 40 ? Math.round(exact / 10) * 10 : Math.floor(exact);
}

async function search(target: Target, fake: FakeModel, pool: ClientPool, probes: CapacityProbe[], log: (line: string) => void) {
  const tokens = settings.capacity.tokens;
  const probe = async (streams: number): Promise<boolean> => {
    await delay(PAUSE_BETWEEN_PROBES_MS);
    const sample = await measure(target, fake, {
      count: streams,
      turn: { tokens, stampTokens: true, tokenDelayMs: settings.pacedDelayMs },
      expectedTokens: tokens,
      pool,
    });
    const reasons = judge(sample);
    probes.push({ streams, sample, pass: reasons.length === 0, reasons });
    log(
      `capacity ${target.label.padEnd(19)} ${String(streams).padStart(4)} streams: p99 ${fmt(sample.latP99).padStart(6)} ms, ` +
        `${fmt(sample.streamRate, 0)} tok/s/stream, ${loadText(sample)} → ${reasons.length ? `FAIL (${reasons.join('; ')})` : 'PASS'}`,
    );
    return reasons.length === 0;
  };
  let sustained = 0;
  let firstFailure: number | undefined;
  for (const step of settings.capacity.steps) {
    if (await probe(step)) sustained = step;
    else {
      firstFailure = step;
      break;
    }
  }
  for (let round = 0; round < settings.capacity.refine && firstFailure !== undefined; round++) {
    const next = midpoint(sustained, firstFailure);
    if (next <= sustained || next >= firstFailure) break;
    if (await probe(next)) sustained = next;
    else firstFailure = next;
  }
  return { sustained, firstFailure };
}

export async function runCapacityScenario(targets: Target[], fake: FakeModel, pool: ClientPool): Promise<{ results: CapacityResult[]; lines: string[] }> {
  const lines: string[] = [];
  const log = (line: string) => {
    lines.push(line);
    console.log(line);
  };
  const results: CapacityResult[] = [];
  // Targets one after another (not interleaved): a search is a sequence that depends on its own outcomes.
  for (const target of targets) {
    const result: CapacityResult = { label: target.label, name: target.name, database: target.database, sustained: 0, searches: [], probes: [] };
    for (let rep = 0; rep < settings.capacity.repeat; rep++) result.searches.push(await search(target, fake, pool, result.probes, log));
    result.sustained = median(result.searches.map((found) => found.sustained));
    log(`capacity ${target.label}: sustains ${result.sustained} streams`);
    results.push(result);
  }
  return { results, lines };
}
