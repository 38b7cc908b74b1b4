/**
 * Turns samples into what people read: one line per sample while the bench runs, then per
 * database a table judged against issue 8's targets (bench/goals.ts) and a table of the other
 * measurements, the capacity and replay tables, and the method notes. The same markdown goes
 * to stdout and to bench/RESULTS.md.
 */
import { checkRow, capacityLimitShare, capacityVerdict, GOALS_LEGEND, REPLAY_SESSION_LIMIT_MS, REPLAY_STREAM_MIN_EVENTS_PER_S, type RowChecks, type RowFigures, type Verdict } from './goals.js';
import type { Sample } from './measure.js';
import type { CapacityResult } from './scenarios/capacity.js';
import type { MainRow } from './scenarios/main.js';
import type { ReplayMeasurement } from './scenarios/replay.js';
import { type DatabaseKind, scenarioName, settings, tokensPerRun } from './settings.js';
import { bytesText, fmt, mb, median } from './stats.js';

const DATABASE_TITLE: Record<DatabaseKind, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

export function sampleLine(prefix: string, label: string, sample: Sample): string {
  return (
    `${prefix} ${label.padEnd(19)} ${String(sample.tokens).padStart(6)} tok in ${fmt(sample.wallMs, 0).padStart(5)} ms  ttft ${fmt(sample.ttftMs).padStart(6)} ms  ` +
    `lat p50/p99 ${fmt(sample.latP50, 2)}/${fmt(sample.latP99, 2)} ms  cpu ${fmt(sample.cpuMs, 0)} ms (${fmt(sample.cpuPer1k)}/1k)  ` +
    (Number.isFinite(sample.dbCpuPer1k) ? `pg ${fmt(sample.dbCpuPer1k)}/1k  ` : '') +
    `rss ${mb(Math.max(sample.peakRss, sample.hwmReset ? sample.hwm : 0))} MB  storage ${bytesText(sample.storageBytesPerToken)}/tok  ` +
    `write() ${fmt(sample.wcharKbPer1k, 0)} KB/1k in ${fmt(sample.syscwPer1k, 0)} calls/1k  client loop ${fmt(100 * sample.clientUtilization, 0)}%` +
    (sample.failures.length ? `  FAILURES: ${sample.failures.length}` : '')
  );
}

interface Aggregate extends RowFigures {
  latP50: number;
  cpuPer1k: number;
  dbCpuPer1k: number;
  peakRssSampled: number;
  hwm: number;
  tokPerSec: number;
  wcharKbPer1k: number;
  diskKbPer1k: number;
  syscwPer1k: number;
  clientUtilization: number;
}

/** Medians over repetitions; peak memory is the maximum over them. */
function aggregate(samples: Sample[]): Aggregate {
  const pick = (key: keyof Sample) => median(samples.map((sample) => sample[key] as number));
  const cpuPer1k = pick('cpuPer1k');
  const dbCpuPer1k = pick('dbCpuPer1k');
  const peakRssSampled = Math.max(...samples.map((sample) => sample.peakRss));
  const hwm = Math.max(...samples.map((sample) => (sample.hwmReset ? sample.hwm : 0)));
  return {
    ttftMs: pick('ttftMs'),
    latP50: pick('latP50'),
    latP99: pick('latP99'),
    cpuPer1k,
    dbCpuPer1k,
    totalCpuPer1k: cpuPer1k + (Number.isFinite(dbCpuPer1k) ? dbCpuPer1k : 0),
    storageBytesPerToken: pick('storageBytesPerToken'),
    peakRssBytes: Math.max(peakRssSampled, hwm),
    peakRssSampled,
    hwm,
    tokPerSec: pick('tokPerSec'),
    wcharKbPer1k: pick('wcharKbPer1k'),
    diskKbPer1k: pick('diskKbPer1k'),
    syscwPer1k: pick('syscwPer1k'),
    clientUtilization: Math.max(...samples.map((sample) => sample.clientUtilization)),
  };
}

const ratio = (ours: number, base: number | undefined): string => (base && Number.isFinite(base) && base > 0 ? `${fmt(ours / base, 2)}×` : 'n/a');

function verdictCounts(checks: RowChecks[]): { pass: number; fail: number } {
  const all = checks.flatMap((check) => Object.values(check) as Verdict[]);
  return { pass: all.filter((verdict) => verdict === 'PASS').length, fail: all.filter((verdict) => verdict === 'FAIL').length };
}

/** Per database: the issue 8 table (with PASS/FAIL) and the table of everything else measured. */
export function renderMainTables(rows: MainRow[]): string {
  const sections: string[] = [];
  const databases: Array<DatabaseKind | undefined> = settings.targets.includes('tokendance') ? settings.databases : [undefined];
  for (const database of databases) {
    const goals = [
      '| scenario | target | TTFT p50 ms | token lat p50 ms | token lat p99 ms | server CPU ms / 1k tok | PG backends CPU ms / 1k tok | CPU × floor | peak RSS MB | storage / token | CPU | p99 | TTFT | storage | RSS |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :-: | :-: | :-: | :-: | :-: |',
    ];
    const details = [
      '| scenario | target | tokens/run | tokens/s | peak RSS MB (sampled / HWM) | write() KB / 1k tok | write() calls / 1k tok | disk write_bytes KB / 1k tok | p99 × floor | client loop busy |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ];
    const checks: RowChecks[] = [];
    for (const mode of settings.modes) {
      for (const concurrency of settings.concurrency) {
        const floorRow = rows.find((row) => row.name === 'floor' && row.mode === mode && row.concurrency === concurrency);
        const floor = floorRow ? aggregate(floorRow.samples) : undefined;
        const scenarioRows = rows.filter(
          (row) => row.mode === mode && row.concurrency === concurrency && (row.name === 'floor' || row.database === database),
        );
        for (const row of scenarioRows) {
          const stats = aggregate(row.samples);
          const isFloor = row.name === 'floor';
          const rowChecks = isFloor || !row.database ? undefined : checkRow(mode, concurrency, row.database, stats, floor);
          if (rowChecks) checks.push(rowChecks);
          goals.push(
            `| ${scenarioName(mode, concurrency)} | ${row.label} | ${fmt(stats.ttftMs)} | ${fmt(stats.latP50, 2)} | ${fmt(stats.latP99, 2)} | ${fmt(stats.cpuPer1k)} | ` +
              `${isFloor || row.database !== 'postgres' ? '—' : fmt(stats.dbCpuPer1k)} | ${isFloor ? '1.00×' : ratio(stats.totalCpuPer1k, floor?.totalCpuPer1k)} | ` +
              `${mb(stats.peakRssBytes)} | ${isFloor ? '—' : bytesText(stats.storageBytesPerToken)} | ` +
              (rowChecks ? `${rowChecks.cpu} | ${rowChecks.p99} | ${rowChecks.ttft} | ${rowChecks.storage} | ${rowChecks.rss} |` : '| | | | |'),
          );
          details.push(
            `| ${scenarioName(mode, concurrency)} | ${row.label} | ${tokensPerRun(mode, concurrency)} | ${fmt(stats.tokPerSec, 0)} | ${mb(stats.peakRssSampled)} / ${mb(stats.hwm)} | ` +
              `${fmt(stats.wcharKbPer1k, 0)} | ${fmt(stats.syscwPer1k, 0)} | ${fmt(stats.diskKbPer1k, 0)} | ${isFloor ? '1.00×' : ratio(stats.latP99, floor?.latP99)} | ${fmt(100 * stats.clientUtilization, 0)}% |`,
          );
        }
      }
    }
    const counts = verdictCounts(checks);
    const title = database ? `${DATABASE_TITLE[database]}` : 'Floor only';
    sections.push(
      [
        database ? `### ${title}: issue 8 targets (${counts.pass} PASS, ${counts.fail} FAIL)` : `### ${title}`,
        '',
        ...goals,
        '',
        `### ${title}: other measurements`,
        '',
        ...details,
      ].join('\n'),
    );
  }
  sections.push(['Targets (issue 8), judged on the medians:', ...GOALS_LEGEND.map((line) => `- ${line}`)].join('\n'));
  return sections.join('\n\n');
}

export function renderCapacity(results: CapacityResult[]): string {
  const floor = results.find((result) => result.name === 'floor');
  const lines = [
    `Largest number of concurrent paced streams (${settings.capacity.tokens} tokens each, one every ${settings.pacedDelayMs} ms) with every token delivered in order, ` +
      `token latency p99 < ${settings.capacity.maxP99Ms} ms${settings.capacity.minRate ? ` and ≥ ${settings.capacity.minRate} tok/s per stream` : ''}; ` +
      `steps ${settings.capacity.steps.join(', ')}, stopping at the first failure, then ${settings.capacity.refine} bisections; ` +
      `${settings.capacity.repeat} search${settings.capacity.repeat > 1 ? 'es (median)' : ' per target (one repetition: a search takes minutes)'}.`,
    '',
    '| target | streams sustained | first failing count | × floor | target | verdict |',
    '| --- | ---: | ---: | ---: | ---: | :-: |',
  ];
  for (const result of results) {
    const failures = result.searches.map((search) => search.firstFailure ?? 'none').join(', ');
    const isFloor = result.name === 'floor';
    const share = floor && floor.sustained > 0 ? result.sustained / floor.sustained : Number.NaN;
    lines.push(
      `| ${result.label} | ${fmt(result.sustained, 0)} | ${failures} | ${isFloor ? '1.00×' : Number.isFinite(share) ? `${fmt(share, 2)}×` : 'n/a'} | ` +
        `${isFloor || !result.database ? '' : `≥ ${capacityLimitShare(result.database).toFixed(2)}×`} | ` +
        `${isFloor || !result.database || !floor ? '' : capacityVerdict(result.database, floor.sustained, result.sustained)} |`,
    );
  }
  return lines.join('\n');
}

export function renderReplay(results: ReplayMeasurement[]): string {
  const lines = [
    '| database | history | frames | built by | median read ms | events/s | target | verdict | server CPU ms / read | client CPU % of wall | problems |',
    '| --- | --- | ---: | --- | ---: | ---: | --- | :-: | ---: | ---: | --- |',
  ];
  for (const result of results) {
    const session = result.kind === 'session';
    const pass = result.problems.length === 0 && (session ? result.medianMs < REPLAY_SESSION_LIMIT_MS : result.eventsPerSecond >= REPLAY_STREAM_MIN_EVENTS_PER_S);
    lines.push(
      `| ${DATABASE_TITLE[result.database]} | ${session ? 'session stream, Last-Event-ID: 0' : '/api/stream, Last-Event-ID: 0'} | ${result.events} | ` +
        `${result.runs} runs × ${settings.replay.tokensPerRun} tokens | ${fmt(result.medianMs)} | ${fmt(result.eventsPerSecond, 0)} | ` +
        `${session ? `< ${REPLAY_SESSION_LIMIT_MS} ms` : `≥ ${REPLAY_STREAM_MIN_EVENTS_PER_S} events/s`} | ${pass ? 'PASS' : 'FAIL'} | ${fmt(result.serverCpuMs, 0)} | ` +
        `${fmt(100 * result.clientCpuShare, 0)}% | ${result.problems.length ? result.problems.slice(0, 2).join('; ') : ''} |`,
    );
  }
  return lines.join('\n');
}
