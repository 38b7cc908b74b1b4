/**
 * Issue 8's targets ("Event pipeline at speed") as data, so the report can print an explicit
 * PASS/FAIL next to every number it is judged by, and the rules live in one place.
 */
import type { DatabaseKind, Mode } from './settings.js';

export type Verdict = 'PASS' | 'FAIL' | '—';

export interface RowFigures {
  ttftMs: number;
  latP99: number;
  /** Server CPU plus, on PostgreSQL, the backends' CPU, per 1000 tokens. */
  totalCpuPer1k: number;
  storageBytesPerToken: number;
  peakRssBytes: number;
}

export interface RowChecks {
  cpu: Verdict;
  p99: Verdict;
  ttft: Verdict;
  storage: Verdict;
  rss: Verdict;
}

const verdict = (applies: boolean, value: number, limit: number): Verdict =>
  !applies ? '—' : Number.isFinite(value) && Number.isFinite(limit) ? (value <= limit ? 'PASS' : 'FAIL') : 'FAIL';

/** CPU limit as a multiple of the floor: paced 1.5× (SQLite) or 2× (PostgreSQL, server + backends); burst 2×. */
export const cpuLimitRatio = (mode: Mode, database: DatabaseKind): number => (mode === 'burst' ? 2 : database === 'sqlite' ? 1.5 : 2);

/** Storage bytes per token: ≤ 4 KB at c=1 and ≤ 1 KB at c=100 (no target at other concurrencies). */
export const storageLimitBytes = (concurrency: number): number | undefined =>
  concurrency === 1 ? 4096 : concurrency === 100 ? 1024 : undefined;

export const RSS_LIMIT_BYTES = 200 * 1024 * 1024;

/** Text of every limit, for the table's legend. */
export const GOALS_LEGEND = [
  'CPU: paced ≤ 1.5× floor (SQLite) / ≤ 2× floor with the PG backends\' CPU added (PostgreSQL); burst ≤ 2× floor (PG: server + backends)',
  'p99: paced token latency p99 ≤ floor p99 + 10 ms',
  'TTFT: paced TTFT p50 ≤ floor + 15 ms at c=1, ≤ 1.5× floor at c=100',
  'storage: bytes written to storage per token ≤ 4 KB at c=1, ≤ 1 KB at c=100 (SQLite: /proc/<pid>/io write_bytes; PostgreSQL: cluster WAL)',
  'RSS: peak RSS ≤ 200 MB at c=100',
];

export function checkRow(mode: Mode, concurrency: number, database: DatabaseKind, ours: RowFigures, floor: RowFigures | undefined): RowChecks {
  const paced = mode === 'paced';
  const storageLimit = storageLimitBytes(concurrency);
  const floorCpu = floor?.totalCpuPer1k ?? Number.NaN;
  const floorTtft = floor?.ttftMs ?? Number.NaN;
  const ttftLimit = concurrency === 1 ? floorTtft + 15 : floorTtft * 1.5;
  return {
    cpu: verdict(floor !== undefined, ours.totalCpuPer1k, floorCpu * cpuLimitRatio(mode, database)),
    p99: verdict(paced && floor !== undefined, ours.latP99, (floor?.latP99 ?? Number.NaN) + 10),
    ttft: verdict(paced && floor !== undefined && (concurrency === 1 || concurrency === 100), ours.ttftMs, ttftLimit),
    storage: verdict(storageLimit !== undefined, ours.storageBytesPerToken, storageLimit ?? Number.NaN),
    rss: verdict(concurrency === 100, ours.peakRssBytes, RSS_LIMIT_BYTES),
  };
}

/** Capacity: tokendance's stream count as a share of the floor's: ≥ 70 % on SQLite, ≥ 50 % on PostgreSQL. */
export const capacityLimitShare = (database: DatabaseKind): number => (database === 'sqlite' ? 0.7 : 0.5);

export const capacityVerdict = (database: DatabaseKind, floorStreams: number, ourStreams: number): Verdict =>
  floorStreams > 0 ? (ourStreams / floorStreams >= capacityLimitShare(database) ? 'PASS' : 'FAIL') : '—';

/** Replay: a 10 000-event session in < 100 ms; a 100 000-event /api/stream history at ≥ 100 000 events/s. */
export const REPLAY_SESSION_LIMIT_MS = 100;
export const REPLAY_STREAM_MIN_EVENTS_PER_S = 100_000;
