/**
 * Everything the bench can be told through the environment, parsed once and checked early so a
 * typo fails in the first second instead of after minutes of measuring.
 * The full list with defaults is in bench/relay-bench.ts's header comment.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeTurn } from '../test/support/fake-openai.js';
import { CLI_PATH } from '../test/support/cli.js';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(BENCH_DIR, '..');

export type Mode = 'burst' | 'paced';
export type TargetName = 'floor' | 'tokendance';
export type DatabaseKind = 'sqlite' | 'postgres';
export type ScenarioName = 'main' | 'capacity' | 'replay' | 'profile';

const envInt = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
};

const envList = (name: string, fallback: string): string[] =>
  (process.env[name] || fallback)
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

function envChoices<T extends string>(name: string, fallback: string, allowed: readonly T[]): T[] {
  const values = envList(name, fallback);
  for (const value of values) if (!allowed.includes(value as T)) throw new Error(`bad ${name} entry "${value}" (allowed: ${allowed.join(', ')})`);
  return values as T[];
}

const envPositiveInts = (name: string, fallback: string): number[] => {
  const values = envList(name, fallback).map(Number);
  for (const value of values) if (!Number.isInteger(value) || value < 1) throw new Error(`bad ${name} entry: ${value}`);
  return values;
};

/**
 * Both databases by default. An explicit TEST_DATABASE (the old way to pick PostgreSQL) still
 * selects just that one when BENCH_DATABASES is not given, so old command lines keep meaning
 * what they meant.
 */
function databases(): DatabaseKind[] {
  if (process.env.BENCH_DATABASES) return envChoices('BENCH_DATABASES', '', ['sqlite', 'postgres'] as const);
  const single = process.env.TEST_DATABASE;
  if (single === 'postgres' || single === 'sqlite') return [single];
  return ['sqlite', 'postgres'];
}

function scenarios(): ScenarioName[] {
  const chosen = envChoices('BENCH_SCENARIOS', 'main,capacity,replay', ['main', 'capacity', 'replay', 'profile'] as const);
  // BENCH_PROFILE=1 is a shorthand for adding the profile scenario to whatever else runs.
  if (process.env.BENCH_PROFILE === '1' && !chosen.includes('profile')) chosen.push('profile');
  return chosen;
}

export const settings = {
  repeat: Math.max(1, envInt('BENCH_REPEAT', 5)),
  databases: databases(),
  scenarios: scenarios(),
  targets: envChoices('BENCH_TARGETS', 'floor,tokendance', ['floor', 'tokendance'] as const),
  concurrency: envPositiveInts('BENCH_CONCURRENCY', '1,10,100'),
  modes: envChoices('BENCH_MODES', 'burst,paced', ['burst', 'paced'] as const),
  burstTotal: envInt('BENCH_BURST_TOTAL', 20000),
  pacedTokens: envInt('BENCH_PACED_TOKENS', 200),
  pacedDelayMs: envInt('BENCH_PACED_DELAY_MS', 10),
  runTimeoutMs: envInt('BENCH_RUN_TIMEOUT_MS', 120_000),
  /** Extra node flags for every measured tokendance server (e.g. --cpu-prof --cpu-prof-dir=...). */
  serverNodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  /** Another build of the server (e.g. a worktree of an older commit) measured by this bench. */
  serverCli: process.env.BENCH_SERVER_CLI || CLI_PATH,
  pgAdminUrl: process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  resultsFile: resolve(process.env.BENCH_RESULTS_FILE || join(BENCH_DIR, 'RESULTS.md')),

  profile: {
    mode: envChoices('BENCH_PROFILE_MODE', 'paced', ['burst', 'paced'] as const)[0] as Mode,
    concurrency: envPositiveInts('BENCH_PROFILE_CONCURRENCY', '100')[0] as number,
  },

  capacity: {
    steps: envPositiveInts('BENCH_CAPACITY_STEPS', '50,100,200,300,400,600,800'),
    /** Bisections between the last passing and the first failing step, for a finer number. */
    refine: envInt('BENCH_CAPACITY_REFINE', 2),
    tokens: envInt('BENCH_CAPACITY_TOKENS', 200),
    maxP99Ms: envInt('BENCH_CAPACITY_MAX_P99_MS', 100),
    /** A stream is "sustained" only if it is delivered at ≥ this many tokens/s (0 = no check). */
    minRate: envInt('BENCH_CAPACITY_MIN_RATE', 80),
    repeat: Math.max(1, envInt('BENCH_CAPACITY_REPEAT', 1)),
    /** Worker threads that run the capacity client, so one event loop does not cap the count. */
    clientWorkers: Math.max(1, envInt('BENCH_CLIENT_WORKERS', 2)),
  },

  replay: {
    /** Events the replayed session must hold at least. */
    sessionEvents: envInt('BENCH_REPLAY_SESSION_EVENTS', 10_000),
    /** Events the /api/stream history must hold at least. */
    streamEvents: envInt('BENCH_REPLAY_STREAM_EVENTS', 100_000),
    /** Tokens per model turn used to build the histories (one event per token today). */
    tokensPerRun: envInt('BENCH_REPLAY_TOKENS_PER_RUN', 10_000),
    tries: Math.max(1, envInt('BENCH_REPLAY_TRIES', 5)),
    /** Fewer timed reads of the 100 000-event stream: on a slow pipeline one read takes many seconds. */
    streamTries: Math.max(1, envInt('BENCH_REPLAY_STREAM_TRIES', 3)),
  },
};

export type Settings = typeof settings;

/** Burst splits one total over the concurrent runs; paced gives every run the same count. */
export const tokensPerRun = (mode: Mode, concurrency: number): number =>
  mode === 'burst' ? Math.max(1, Math.round(settings.burstTotal / concurrency)) : settings.pacedTokens;

export const turnFor = (mode: Mode, tokens: number): FakeTurn =>
  mode === 'burst' ? { tokens, stampTokens: true } : { tokens, stampTokens: true, tokenDelayMs: settings.pacedDelayMs };

export const scenarioName = (mode: Mode, concurrency: number): string => `${mode} c=${concurrency}`;
