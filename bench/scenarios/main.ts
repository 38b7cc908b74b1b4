/**
 * The main matrix: burst and paced runs at each concurrency, every target measured in turn
 * inside each repetition (floor, then tokendance on each database), so drift over the run
 * (thermal, page cache, database growth, other users of the machine) hits all of them alike.
 */
import type { FakeModel } from '../model-process.js';
import { measure, type Sample } from '../measure.js';
import { sampleLine } from '../report.js';
import { type DatabaseKind, type Mode, scenarioName, settings, type TargetName, tokensPerRun, turnFor } from '../settings.js';
import type { Target } from '../targets.js';

export interface MainRow {
  label: string;
  name: TargetName;
  database?: DatabaseKind;
  mode: Mode;
  concurrency: number;
  samples: Sample[];
}

export interface MainResult {
  rows: MainRow[];
  sampleLines: string[];
  /** Runs that were not delivered correctly: a broken relay, not a slow one. */
  failures: string[];
}

const measureScenario = (target: Target, fake: FakeModel, mode: Mode, concurrency: number, tokens = tokensPerRun(mode, concurrency)) =>
  measure(target, fake, { count: concurrency, turn: turnFor(mode, tokens), expectedTokens: tokens });

/**
 * Not recorded: JIT, connection pools, first-query costs, and the heap growing to its working
 * size. The bursts are full size: after a pass of 200 tokens, every target's first measured
 * burst (c=1, the first scenario of the run) still cost it up to twice its later repetitions.
 */
export async function warmUp(targets: Target[], fake: FakeModel): Promise<void> {
  for (const target of targets) {
    for (const [mode, concurrency] of [['burst', 10], ['paced', 10], ['burst', 1], ['burst', 100]] as const) {
      const sample = await measureScenario(target, fake, mode, concurrency, mode === 'burst' ? tokensPerRun('burst', concurrency) : 30);
      if (sample.failures.length) throw new Error(`warm-up of ${target.label} failed: ${sample.failures.slice(0, 3).join('; ')}`);
    }
  }
}

export async function runMainScenario(targets: Target[], fake: FakeModel): Promise<MainResult> {
  const result: MainResult = { rows: [], sampleLines: [], failures: [] };
  for (let rep = 1; rep <= settings.repeat; rep++) {
    for (const mode of settings.modes) {
      for (const concurrency of settings.concurrency) {
        for (const target of targets) {
          const sample = await measureScenario(target, fake, mode, concurrency);
          let row = result.rows.find((candidate) => candidate.label === target.label && candidate.mode === mode && candidate.concurrency === concurrency);
          if (!row) result.rows.push((row = { label: target.label, name: target.name, database: target.database, mode, concurrency, samples: [] }));
          row.samples.push(sample);
          for (const failure of sample.failures) result.failures.push(`${target.label} ${scenarioName(mode, concurrency)} rep ${rep}: ${failure}`);
          const line = sampleLine(`rep ${rep}/${settings.repeat}  ${scenarioName(mode, concurrency).padEnd(12)}`, target.label, sample);
          result.sampleLines.push(line);
          console.log(line);
        }
      }
    }
  }
  return result;
}
