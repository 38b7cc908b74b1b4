/**
 * Relay benchmark: what TokenDance costs per streamed token compared with the least a relay
 * can do, measured side by side in one run.
 *
 *   npm run bench          (= npm run build && node --import tsx bench/relay-bench.ts)
 *
 * Processes (each its own OS process, so CPU is attributable and no event loop is shared):
 *   - this process: the load generator / SSE client (bench/sse-client.ts)
 *   - fake model:   test/support/fake-openai.ts in bench/fake-model.ts; stamps every token with
 *                   the epoch ms at which it wrote it (`<t:MS>`)
 *   - floor:        bench/bare-relay.ts — fetch + eventsource-parser + res.write, nothing else
 *   - tokendance:   `node dist/cli/main.js serve` with a fresh database (SQLite by default,
 *                   TEST_DATABASE=postgres for PostgreSQL) via TestEnvironment.spawn
 *
 * Per (target, scenario) it reports: median time to first `content` event, per-token relay
 * latency p50/p99 (receipt time − stamp), target CPU ms per 1000 tokens (/proc, all threads),
 * peak RSS (VmRSS sampled every 50 ms, and VmHWM reset before each scenario), tokens/s, and
 * TokenDance's ratio to the floor. Every run is verified: exactly N content events in order
 * and a `done`. Medians over BENCH_REPEAT repetitions; floor and tokendance alternate within
 * each repetition so drift (thermal, page cache, DB growth) hits both alike.
 *
 * Environment:
 *   BENCH_REPEAT=3               repetitions per scenario
 *   BENCH_CONCURRENCY=1,10,100   concurrent runs per scenario
 *   BENCH_MODES=burst,paced
 *   BENCH_BURST_TOTAL=20000      burst: tokens per scenario, split over the concurrent runs
 *   BENCH_PACED_TOKENS=200       paced: tokens per run
 *   BENCH_PACED_DELAY_MS=10      paced: pause before each token
 *   BENCH_TARGETS=floor,tokendance
 *   BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=bench/profiles"   extra node args for the server
 *   TEST_DATABASE=postgres (TEST_PG_URL=...)   run TokenDance on PostgreSQL
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { FakeTurn } from '../test/support/fake-openai.js';
import { CLI_PATH } from '../test/support/cli.js';
import { TEST_DATABASE } from '../test/support/database.js';
import { apiClient, type Api } from '../test/support/http.js';
import { registerUser, TestEnvironment } from '../test/support/server.js';
import { cpuDeltaMs, readCpu, readIo, sampleMemory } from './proc.js';
import { agent, runStream, type RunResult } from './sse-client.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, '..');

// ---------------------------------------------------------------- configuration

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

type Mode = 'burst' | 'paced';
type TargetName = 'floor' | 'tokendance';

const settings = {
  repeat: Math.max(1, envInt('BENCH_REPEAT', 3)),
  concurrency: envList('BENCH_CONCURRENCY', '1,10,100').map(Number),
  modes: envList('BENCH_MODES', 'burst,paced') as Mode[],
  burstTotal: envInt('BENCH_BURST_TOTAL', 20000),
  pacedTokens: envInt('BENCH_PACED_TOKENS', 200),
  pacedDelayMs: envInt('BENCH_PACED_DELAY_MS', 10),
  targets: envList('BENCH_TARGETS', 'floor,tokendance') as TargetName[],
  serverNodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  runTimeoutMs: envInt('BENCH_RUN_TIMEOUT_MS', 120_000),
};
for (const c of settings.concurrency) if (!Number.isInteger(c) || c < 1) throw new Error(`bad BENCH_CONCURRENCY entry: ${c}`);
for (const m of settings.modes) if (m !== 'burst' && m !== 'paced') throw new Error(`bad BENCH_MODES entry: ${m}`);
for (const t of settings.targets) if (t !== 'floor' && t !== 'tokendance') throw new Error(`bad BENCH_TARGETS entry: ${t}`);

const tokensPerRun = (mode: Mode, concurrency: number): number =>
  mode === 'burst' ? Math.max(1, Math.round(settings.burstTotal / concurrency)) : settings.pacedTokens;

const turnFor = (mode: Mode, tokens: number): FakeTurn =>
  mode === 'burst' ? { tokens, stampTokens: true } : { tokens, stampTokens: true, tokenDelayMs: settings.pacedDelayMs };

// ---------------------------------------------------------------- child process bookkeeping

/** Every child we started; killed (SIGKILL) on exit if still alive, whatever path we exit by. */
const children = new Set<ChildProcess>();
const cleanups: Array<{ name: string; run: () => Promise<void> }> = [];

process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolvePromise) => child.once('exit', () => resolvePromise()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Resolves with the first capture of `pattern` on the child's stdout; rejects if it exits first. */
function waitForLine(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 30_000): Promise<string> {
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = pattern.exec(line);
      if (match) {
        clearTimeout(timer);
        resolvePromise(match[1]!);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before it was ready: ${stderr}`));
    });
  });
}

// ---------------------------------------------------------------- fake model (own process)

interface FakeModel {
  baseUrl: string;
  pid: number;
  setTurn(turn: FakeTurn): Promise<void>;
}

async function startFakeModel(): Promise<FakeModel> {
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'fake-model.ts')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  cleanups.push({ name: 'fake model', run: () => stopChild(child) });
  let nextId = 0;
  const waiting = new Map<number, () => void>();
  const baseUrl = await new Promise<string>((resolvePromise, reject) => {
    child.on('message', (message: { type: string; id?: number; baseUrl?: string }) => {
      if (message.type === 'ready') resolvePromise(message.baseUrl!);
      if (message.type === 'ok') waiting.get(message.id!)?.();
    });
    child.once('exit', (code) => reject(new Error(`fake model exited (${code}) before it was ready`)));
  });
  return {
    baseUrl,
    pid: child.pid!,
    setTurn: (turn) =>
      new Promise<void>((resolvePromise, reject) => {
        const id = ++nextId;
        const timer = setTimeout(() => reject(new Error('fake model did not acknowledge the turn')), 10_000);
        waiting.set(id, () => {
          clearTimeout(timer);
          waiting.delete(id);
          resolvePromise();
        });
        child.send({ type: 'turn', id, turn });
      }),
  };
}

// ---------------------------------------------------------------- targets

interface RunSpec {
  url: string;
  token?: string;
  body: unknown;
}

interface Target {
  name: TargetName;
  pid: number;
  /** Everything a run needs that is not part of relaying (sessions), done before measuring. */
  prepare(concurrency: number): Promise<RunSpec[]>;
  /** PostgreSQL only: CPU ms so far of each server backend of the target's database, by pid. */
  databaseCpu?: () => Promise<Map<number, number>>;
}

async function startFloor(fake: FakeModel): Promise<Target> {
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'bare-relay.ts'), fake.baseUrl], {
      cwd: ROOT,
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  cleanups.push({ name: 'bare relay', run: () => stopChild(child) });
  const url = await waitForLine(child, /listening on (\S+)/, 'bare relay');
  return {
    name: 'floor',
    pid: child.pid!,
    prepare: async (concurrency) => Array.from({ length: concurrency }, () => ({ url: `${url}/relay`, body: { content: 'go' } })),
  };
}

function serverToml(fake: FakeModel): string {
  return [
    '[providers.fake]',
    'type = "openai-compatible"',
    `base_url = "${fake.baseUrl}"`,
    'model = "fake-model"',
    '[model]',
    'default = "fake"',
    '[limits]',
    'requests_per_minute = 1000000',
    'sse_concurrent = 1000',
  ].join('\n');
}

async function startTokenDance(fake: FakeModel): Promise<Target & { databaseLocation: string }> {
  const environment = await TestEnvironment.create();
  cleanups.push({ name: 'test environment (temp dir, database)', run: () => environment.destroy() });
  let url: string;
  let child: ChildProcess;
  if (settings.serverNodeArgs.length === 0) {
    const server = await environment.spawn({ toml: serverToml(fake) });
    child = track(server.child!);
    url = server.url;
  } else {
    // Same as TestEnvironment.spawn, plus node flags (e.g. --cpu-prof) the helper cannot pass.
    const configPath = environment.writeConfig(serverToml(fake));
    child = track(
      spawn(process.execPath, [...settings.serverNodeArgs, CLI_PATH, '--config', configPath, 'serve'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    url = await waitForLine(child, /listening on (\S+)/, 'tokendance');
  }
  // Registered after the environment, so it runs first: the server stops before its database goes.
  cleanups.push({ name: 'tokendance server', run: () => stopChild(child, 8000) });
  const api: Api = apiClient(url);
  const user = await registerUser(api);
  let databaseCpu: Target['databaseCpu'];
  if (TEST_DATABASE === 'postgres') {
    // The backends serving the server's pool are separate processes: read their CPU the same way.
    const admin = new pg.Client({ connectionString: process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
    await admin.connect();
    cleanups.push({ name: 'postgres admin connection', run: () => admin.end() });
    const database = new URL(environment.databaseUrl).pathname.slice(1);
    databaseCpu = async () => {
      const { rows } = await admin.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [database]);
      const cpu = new Map<number, number>();
      for (const { pid } of rows) {
        try {
          const reading = readCpu(pid);
          cpu.set(pid, reading.schedMs ?? reading.tickMs);
        } catch {
          // Not on this machine (remote server) or already gone.
        }
      }
      return cpu;
    };
  }
  const createSession = async (): Promise<string> => {
    const response = await api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } });
    if (response.status !== 201) throw new Error(`create session failed: ${response.status} ${response.text}`);
    return response.body.id as string;
  };
  return {
    name: 'tokendance',
    pid: child.pid!,
    databaseCpu,
    databaseLocation: TEST_DATABASE === 'postgres' ? environment.databaseUrl.replace(/\/\/[^@/]*@/, '//') : 'temp dir, WAL',
    prepare: async (concurrency) => {
      const ids: string[] = [];
      // A few at a time: session creation is set-up, not what is measured.
      for (let at = 0; at < concurrency; at += 20) {
        ids.push(...(await Promise.all(Array.from({ length: Math.min(20, concurrency - at) }, createSession))));
      }
      return ids.map((id) => ({ url: `${url}/api/v1/chat/${id}/message`, token: user.token, body: { content: 'go' } }));
    },
  };
}

// ---------------------------------------------------------------- measuring

interface Sample {
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
  /** write()-syscall bytes (sockets + files) and storage write_bytes per 1000 tokens, KB. */
  wcharKbPer1k: number;
  diskKbPer1k: number;
  syscwPer1k: number;
  wallMs: number;
  tokens: number;
  failures: string[];
}

const median = (values: number[]): number => {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** Nearest-rank percentile of an unsorted array (sorted in place). */
const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return Number.NaN;
  values.sort((a, b) => a - b);
  return values[Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1))]!;
};

/** Time after the last `done` during which the target's CPU still counts (its trailing bookkeeping). */
const SETTLE_MS = 150;

async function measure(target: Target, fake: FakeModel, mode: Mode, concurrency: number, tokens = tokensPerRun(mode, concurrency)): Promise<Sample> {
  await fake.setTurn(turnFor(mode, tokens));
  const specs = await target.prepare(concurrency);
  await delay(SETTLE_MS); // let set-up work finish before the CPU window opens
  const memory = sampleMemory(target.pid);
  const dbBefore = await target.databaseCpu?.();
  const cpuBefore = readCpu(target.pid);
  const ioBefore = readIo(target.pid);
  const startedAt = performance.now();
  const results: RunResult[] = await Promise.all(
    specs.map((spec) => runStream(spec.url, { token: spec.token, body: spec.body, expectedTokens: tokens, timeoutMs: settings.runTimeoutMs })),
  );
  const wallMs = performance.now() - startedAt;
  const received = results.reduce((sum, result) => sum + result.contentCount, 0);
  await delay(SETTLE_MS);
  const cpuAfter = readCpu(target.pid);
  const ioAfter = readIo(target.pid);
  const dbAfter = await target.databaseCpu?.();
  const mem = memory.stop();
  const perK = (before: number | undefined, after: number | undefined, unit = 1) =>
    before === undefined || after === undefined || received === 0 ? Number.NaN : (after - before) / unit / (received / 1000);

  const latencies = results.flatMap((result) => result.latencies);
  const cpuMs = cpuDeltaMs(cpuBefore, cpuAfter);
  const failures = results.flatMap((result, index) => result.problems.map((problem) => `run ${index + 1}/${concurrency}: ${problem}`));
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
    dbCpuPer1k:
      dbBefore && dbAfter && received > 0
        ? [...dbAfter].reduce((sum, [pid, ms]) => sum + ms - (dbBefore.get(pid) ?? 0), 0) / (received / 1000)
        : Number.NaN,
    wcharKbPer1k: perK(ioBefore?.wchar, ioAfter?.wchar, 1024),
    diskKbPer1k: perK(ioBefore?.writeBytes, ioAfter?.writeBytes, 1024),
    syscwPer1k: perK(ioBefore?.syscw, ioAfter?.syscw),
    wallMs,
    tokens: received,
    failures,
  };
}

// ---------------------------------------------------------------- report

const scenarioName = (mode: Mode, concurrency: number) => `${mode} c=${concurrency}`;
const fmt = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const mb = (bytes: number): string => (bytes > 0 ? (bytes / 1024 / 1024).toFixed(0) : 'n/a');

interface Row {
  target: TargetName;
  mode: Mode;
  concurrency: number;
  samples: Sample[];
}

function aggregate(samples: Sample[]) {
  const pick = (key: keyof Sample) => median(samples.map((sample) => sample[key] as number));
  return {
    ttftMs: pick('ttftMs'),
    latP50: pick('latP50'),
    latP99: pick('latP99'),
    cpuPer1k: pick('cpuPer1k'),
    peakRss: Math.max(...samples.map((sample) => sample.peakRss)),
    hwm: Math.max(...samples.map((sample) => sample.hwm)),
    tokPerSec: pick('tokPerSec'),
    dbCpuPer1k: pick('dbCpuPer1k'),
    wcharKbPer1k: pick('wcharKbPer1k'),
    diskKbPer1k: pick('diskKbPer1k'),
    syscwPer1k: pick('syscwPer1k'),
  };
}

function renderTable(rows: Row[]): string {
  const withDb = rows.some((row) => row.samples.some((sample) => Number.isFinite(sample.dbCpuPer1k)));
  const dbHeads = withDb ? ' PG backends CPU ms / 1k tok | (server + PG) CPU × floor |' : '';
  const lines = [
    `| scenario | target | tokens/run | TTFT p50 ms | token lat p50 ms | token lat p99 ms | CPU ms / 1k tok | peak RSS MB (sampled / HWM) | tokens/s | write() KB / 1k tok | disk KB / 1k tok | CPU × floor | p99 × floor |${dbHeads}`,
    `| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${withDb ? ' ---: | ---: |' : ''}`,
  ];
  for (const mode of settings.modes) {
    for (const concurrency of settings.concurrency) {
      const floorRow = rows.find((row) => row.target === 'floor' && row.mode === mode && row.concurrency === concurrency);
      const floor = floorRow ? aggregate(floorRow.samples) : undefined;
      for (const target of settings.targets) {
        const row = rows.find((candidate) => candidate.target === target && candidate.mode === mode && candidate.concurrency === concurrency);
        if (!row) continue;
        const stats = aggregate(row.samples);
        const ratio = (ours: number, base: number | undefined) => (base && Number.isFinite(base) && base > 0 ? `${fmt(ours / base, 2)}×` : 'n/a');
        lines.push(
          [
            '',
            scenarioName(mode, concurrency),
            target,
            String(tokensPerRun(mode, concurrency)),
            fmt(stats.ttftMs),
            fmt(stats.latP50, 2),
            fmt(stats.latP99, 2),
            fmt(stats.cpuPer1k),
            `${mb(stats.peakRss)} / ${mb(stats.hwm)}`,
            fmt(stats.tokPerSec, 0),
            fmt(stats.wcharKbPer1k, 0),
            fmt(stats.diskKbPer1k, 0),
            target === 'floor' ? '1.00×' : ratio(stats.cpuPer1k, floor?.cpuPer1k),
            target === 'floor' ? '1.00×' : ratio(stats.latP99, floor?.latP99),
            ...(withDb
              ? [
                  fmt(stats.dbCpuPer1k),
                  target === 'floor' ? '1.00×' : ratio(stats.cpuPer1k + (Number.isFinite(stats.dbCpuPer1k) ? stats.dbCpuPer1k : 0), floor?.cpuPer1k),
                ]
              : []),
            '',
          ].join(' | ').trim(),
        );
      }
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

async function cleanup(): Promise<void> {
  // Last registered first: servers stop before the environment (and its database) is destroyed.
  for (const step of cleanups.splice(0).reverse()) {
    try {
      await step.run();
    } catch (error) {
      console.error(`cleanup of ${step.name} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  agent.destroy();
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\n${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  const benchStarted = performance.now();
  const fake = await startFakeModel();
  const targets: Target[] = [];
  let databaseLocation = 'n/a';
  for (const name of settings.targets) {
    if (name === 'floor') targets.push(await startFloor(fake));
    else {
      const tokendance = await startTokenDance(fake);
      databaseLocation = tokendance.databaseLocation;
      targets.push(tokendance);
    }
  }

  const header = [
    `# Relay benchmark: TokenDance vs a bare Node relay`,
    '',
    `- date: ${new Date().toISOString()}`,
    `- database: ${settings.targets.includes('tokendance') ? `${TEST_DATABASE} (${databaseLocation})` : 'n/a'}`,
    `- node: ${process.version}; CPUs: ${availableParallelism()} × ${cpus()[0]?.model ?? 'unknown'}`,
    `- tokens: burst = ${settings.burstTotal} per scenario split over the concurrent runs (${settings.concurrency.map((c) => `c=${c}: ${tokensPerRun('burst', c)}/run`).join(', ')}); ` +
      `paced = ${settings.pacedTokens}/run, one every ${settings.pacedDelayMs} ms`,
    `- repetitions: ${settings.repeat} (medians shown; peak RSS is the max over repetitions)`,
    `- processes: bench client, fake model (test/support/fake-openai.ts), floor relay and tokendance server are separate processes` +
      (settings.serverNodeArgs.length ? `; server node args: ${settings.serverNodeArgs.join(' ')}` : ''),
  ].join('\n');
  console.log(header);
  console.log();

  // Warm-up (not recorded): JIT, connection pools, first-query costs.
  for (const target of targets) {
    for (const [mode, concurrency] of [['burst', 10], ['paced', 10], ['burst', 1]] as const) {
      const sample = await measure(target, fake, mode, concurrency, mode === 'burst' ? 200 : 30);
      if (sample.failures.length) throw new Error(`warm-up of ${target.name} failed: ${sample.failures.slice(0, 3).join('; ')}`);
    }
  }

  const rows: Row[] = [];
  const allFailures: string[] = [];
  const sampleLines: string[] = [];
  for (let rep = 1; rep <= settings.repeat; rep++) {
    for (const mode of settings.modes) {
      for (const concurrency of settings.concurrency) {
        for (const target of targets) {
          const sample = await measure(target, fake, mode, concurrency);
          let row = rows.find((candidate) => candidate.target === target.name && candidate.mode === mode && candidate.concurrency === concurrency);
          if (!row) rows.push((row = { target: target.name, mode, concurrency, samples: [] }));
          row.samples.push(sample);
          for (const failure of sample.failures) allFailures.push(`${target.name} ${scenarioName(mode, concurrency)} rep ${rep}: ${failure}`);
          const line =
            `rep ${rep}/${settings.repeat}  ${scenarioName(mode, concurrency).padEnd(12)} ${target.name.padEnd(10)} ` +
              `${String(sample.tokens).padStart(6)} tok in ${fmt(sample.wallMs, 0).padStart(5)} ms  ttft ${fmt(sample.ttftMs).padStart(6)} ms  ` +
              `lat p50/p99 ${fmt(sample.latP50, 2)}/${fmt(sample.latP99, 2)} ms  cpu ${fmt(sample.cpuMs, 0)} ms (${fmt(sample.cpuPer1k)}/1k)  ` +
              (Number.isFinite(sample.dbCpuPer1k) ? `pg ${fmt(sample.dbCpuPer1k)}/1k  ` : '') +
              `rss ${mb(sample.peakRss)} MB  write() ${fmt(sample.wcharKbPer1k, 0)} KB/1k in ${fmt(sample.syscwPer1k, 0)} calls/1k${sample.failures.length ? `  FAILURES: ${sample.failures.length}` : ''}`;
          sampleLines.push(line);
          console.log(line);
        }
      }
    }
  }

  const table = renderTable(rows);
  const hwmNote = rows.some((row) => row.samples.some((sample) => !sample.hwmReset))
    ? 'VmHWM could not be reset (/proc/<pid>/clear_refs): HWM is the lifetime peak.'
    : 'VmHWM reset before each scenario via /proc/<pid>/clear_refs.';
  const notes = [
    '',
    'Columns: TTFT = request sent → first `content` event (median over the runs of a scenario). Token latency = receipt by the client − the',
    'fake model\'s stamp taken as it wrote the token (all tokens of the scenario pooled); in burst mode it is mostly queueing behind the',
    'burst, meaningful as relay latency only in paced mode. CPU = the target process alone (all threads, /proc/<pid>/task/*/schedstat),',
    `from the first request to ${SETTLE_MS} ms after the last \`done\`, per 1000 tokens delivered; session creation is excluded, run`,
    'bookkeeping is included; with PostgreSQL the backends\' CPU (local server, found via pg_stat_activity) has its own column.',
    'Peak RSS = max of VmRSS sampled every 50 ms /',
    `VmHWM. ${hwmNote} tokens/s = tokens delivered / scenario wall time. write() KB = /proc/<pid>/io wchar (socket and
file writes), disk KB = write_bytes (what reached the storage layer; the floor writes only to sockets). Ratios = tokendance / floor.`,
    `Total bench time: ${fmt((performance.now() - benchStarted) / 1000, 0)} s.`,
  ].join('\n');
  const failureText = allFailures.length
    ? `\n\n## Failures (${allFailures.length})\n\n${allFailures.slice(0, 50).map((failure) => `- ${failure}`).join('\n')}`
    : '\n\nAll runs verified: exactly N content tokens, in order, and a `done` event.';
  console.log();
  console.log(table);
  console.log(notes);
  console.log(failureText);
  const raw = `\n\n## Every sample\n\n\`\`\`\n${sampleLines.join('\n')}\n\`\`\`\n`;
  writeFileSync(join(BENCH_DIR, 'RESULTS.md'), `${header}\n\n${table}\n${notes}${failureText}${raw}`);
  console.log(`\nwrote ${join(BENCH_DIR, 'RESULTS.md')}`);
  return allFailures.length ? 1 : 0;
}

if (settings.serverNodeArgs.some((arg) => arg.startsWith('--cpu-prof'))) mkdirSync(join(BENCH_DIR, 'profiles'), { recursive: true });

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
