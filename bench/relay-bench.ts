/**
 * Relay benchmark: what TokenDance costs per streamed token compared with the least a relay can
 * do (bench/bare-relay.ts, "the floor"), measured side by side in one run, on SQLite and
 * PostgreSQL, judged against issue 8's targets (bench/goals.ts).
 *
 *   npm run bench          (= npm run build && node --import tsx bench/relay-bench.ts)
 *
 * Scenarios (BENCH_SCENARIOS, default main,capacity,replay):
 *   main      burst and paced runs at c=1,10,100: TTFT, token latency, CPU, RSS, storage bytes (scenarios/main.ts)
 *   capacity  most concurrent paced streams each target sustains (scenarios/capacity.ts)
 *   replay    10 000-event session replay time; 100 000-event /api/stream replay rate (scenarios/replay.ts)
 *   profile   CPU profile of the server during paced c=100 (scenarios/profile.ts; also BENCH_PROFILE=1)
 * Results: stdout and bench/RESULTS.md (its "## CPU profile" section is kept across runs).
 *
 * Environment (defaults in brackets):
 *   BENCH_DATABASES=sqlite,postgres   [both; TEST_DATABASE=x alone still means just x]  TEST_PG_URL [postgres://postgres@127.0.0.1:5432/test]
 *   BENCH_SCENARIOS [main,capacity,replay]   BENCH_PROFILE=1 (adds profile)   BENCH_TARGETS [floor,tokendance]
 *   BENCH_REPEAT [5]   BENCH_CONCURRENCY [1,10,100]   BENCH_MODES [burst,paced]
 *   BENCH_BURST_TOTAL [20000] tokens per burst scenario, split over the runs   BENCH_PACED_TOKENS [200]   BENCH_PACED_DELAY_MS [10]
 *   BENCH_CAPACITY_STEPS [50,100,200,300,400,600,800]   BENCH_CAPACITY_REFINE [2]   BENCH_CAPACITY_TOKENS [200]
 *   BENCH_CAPACITY_MAX_P99_MS [100]   BENCH_CAPACITY_MIN_RATE [80] tok/s per stream, 0 = off   BENCH_CAPACITY_REPEAT [1]   BENCH_CLIENT_WORKERS [2]
 *   BENCH_REPLAY_SESSION_EVENTS [10000]   BENCH_REPLAY_STREAM_EVENTS [100000]   BENCH_REPLAY_TOKENS_PER_RUN [10000]   BENCH_REPLAY_TRIES [5]   BENCH_REPLAY_STREAM_TRIES [3]
 *   BENCH_RUN_TIMEOUT_MS [120000]   BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=bench/profiles")
 *   BENCH_PROFILE_MODE [paced] BENCH_PROFILE_CONCURRENCY [100]   BENCH_SERVER_CLI [dist/cli/main.js] another server build to measure   BENCH_RESULTS_FILE [bench/RESULTS.md]
 */
import { mkdirSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { onCleanup, runCleanups } from './child-processes.js';
import { ClientPool } from './client-pool.js';
import { methodNotes } from './method-notes.js';
import { startFakeModel } from './model-process.js';
import { renderCapacity, renderMainTables, renderReplay } from './report.js';
import { writeResultsFile } from './results-file.js';
import { runCapacityScenario } from './scenarios/capacity.js';
import { runMainScenario, warmUp, type MainResult } from './scenarios/main.js';
import { runProfileScenario } from './scenarios/profile.js';
import { runReplayScenario } from './scenarios/replay.js';
import { agent } from './sse-client.js';
import { BENCH_DIR, settings, tokensPerRun } from './settings.js';
import { startFloor, startTokenDance, type Target, type TokenDanceTarget } from './targets.js';

function header(): string {
  const tokendance = settings.targets.includes('tokendance');
  return [
    '# Relay benchmark: TokenDance vs a bare Node relay',
    '',
    `- date: ${new Date().toISOString()}`,
    `- databases: ${tokendance ? settings.databases.join(', ') : 'n/a'}; scenarios: ${settings.scenarios.join(', ')}`,
    `- node: ${process.version}; CPUs: ${availableParallelism()} × ${cpus()[0]?.model ?? 'unknown'}`,
    `- tokens: burst = ${settings.burstTotal} per scenario split over the concurrent runs (${settings.concurrency.map((c) => `c=${c}: ${tokensPerRun('burst', c)}/run`).join(', ')}); ` +
      `paced = ${settings.pacedTokens}/run, one every ${settings.pacedDelayMs} ms`,
    `- repetitions: ${settings.repeat} (medians shown; peak RSS is the max over repetitions)`,
    `- server: ${settings.serverCli}${settings.serverNodeArgs.length ? `; node args: ${settings.serverNodeArgs.join(' ')}` : ''}`,
  ].join('\n');
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\n${signal}: cleaning up`);
    void runCleanups().finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  const benchStarted = performance.now();
  const wants = (scenario: (typeof settings.scenarios)[number]) => settings.scenarios.includes(scenario);
  const fake = await startFakeModel();
  const targets: Target[] = [];
  const servers: TokenDanceTarget[] = [];
  if (settings.targets.includes('floor')) targets.push(await startFloor(fake));
  if (settings.targets.includes('tokendance') && (wants('main') || wants('capacity') || wants('replay'))) {
    for (const database of settings.databases) servers.push(await startTokenDance(fake, database));
    targets.push(...servers);
  }
  const top = header();
  console.log(`${top}\n`);

  const sections: string[] = [];
  const tail: string[] = [];
  const sampleLines: string[] = [];
  let main: MainResult | undefined;
  // Seconds per phase, so a long run shows where its time went.
  const phases: string[] = [];
  let phaseStarted = benchStarted;
  const phaseDone = (name: string) => {
    phases.push(`${name} ${((performance.now() - phaseStarted) / 1000).toFixed(0)} s`);
    phaseStarted = performance.now();
  };
  phaseDone('start-up');
  if (wants('main') || wants('capacity')) {
    await warmUp(targets, fake);
    phaseDone('warm-up');
  }
  if (wants('main')) {
    main = await runMainScenario(targets, fake);
    sampleLines.push(...main.sampleLines);
    sections.push(`## Burst and paced streams\n\n${renderMainTables(main.rows)}`);
    phaseDone('burst and paced');
  }
  if (wants('capacity')) {
    const pool = await ClientPool.start(settings.capacity.clientWorkers);
    onCleanup('client worker threads', () => pool.close());
    const capacity = await runCapacityScenario(targets, fake, pool);
    sampleLines.push(...capacity.lines);
    sections.push(`## Capacity\n\n${renderCapacity(capacity.results)}`);
    phaseDone('capacity');
  }
  const replayFailures: string[] = [];
  if (wants('replay') && servers.length) {
    const replay = await runReplayScenario(servers, fake);
    sampleLines.push(...replay.lines);
    for (const result of replay.results) replayFailures.push(...result.problems.map((problem) => `replay ${result.database} ${result.kind}: ${problem}`));
    sections.push(`## Replay\n\n${renderReplay(replay.results)}`);
    phaseDone('replay');
  }
  if (wants('profile') && settings.targets.includes('tokendance')) {
    const profiles = await runProfileScenario(fake);
    tail.push(
      `## Profiles of this run (${settings.profile.mode} c=${settings.profile.concurrency})\n\n${profiles.map((profile) => `### ${profile.database}: ${profile.path}\n\n\`\`\`\n${profile.summary}\n\`\`\``).join('\n\n')}`,
    );
    phaseDone('profile');
  }

  const hwmReset = main ? main.rows.every((row) => row.samples.every((sample) => sample.hwmReset)) : true;
  sections.push(methodNotes({ hwmReset, totalSeconds: (performance.now() - benchStarted) / 1000, phases }));
  const failures = [...(main?.failures ?? []), ...replayFailures];
  tail.push(
    failures.length
      ? `## Failures (${failures.length})\n\n${failures.slice(0, 50).map((failure) => `- ${failure}`).join('\n')}`
      : '## Verification\n\nAll runs verified: exactly N content tokens, in order, and a `done` event; replays complete, in order, without duplicates.',
  );
  tail.push(`## Every sample\n\n\`\`\`\n${sampleLines.join('\n')}\n\`\`\``);

  console.log(`\n${sections.join('\n\n')}\n\n${tail.filter((part) => !part.startsWith('## Every sample')).join('\n\n')}`);
  writeResultsFile(settings.resultsFile, { header: top, sections, tail });
  console.log(`\nwrote ${settings.resultsFile}`);
  return failures.length ? 1 : 0;
}

// --cpu-prof writes its file at exit into a directory that must exist.
if (settings.serverNodeArgs.some((arg) => arg.startsWith('--cpu-prof'))) mkdirSync(join(BENCH_DIR, 'profiles'), { recursive: true });

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  exitCode = 1;
} finally {
  await runCleanups();
  agent.destroy();
}
process.exit(exitCode);
