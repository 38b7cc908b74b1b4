/**
 * CPU profile of the tokendance server during paced c=100 (BENCH_PROFILE=1 or
 * BENCH_SCENARIOS=...,profile; another scenario with BENCH_PROFILE_MODE / BENCH_PROFILE_CONCURRENCY), per database. A separate server per database, started with
 * --inspect and warmed up, so the profiler's overhead never touches the measured samples. The
 * profile covers that scenario's measured window only (not the sessions set up before it); it
 * is written to bench/profiles/ and summarised by bench/profile-summary.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InspectorProfiler } from '../inspector-profiler.js';
import { measure } from '../measure.js';
import type { FakeModel } from '../model-process.js';
import { type Profile, summarizeProfile } from '../profile-summary.js';
import { sampleLine } from '../report.js';
import { BENCH_DIR, settings, tokensPerRun, turnFor } from '../settings.js';
import { startTokenDance } from '../targets.js';
import { warmUp } from './main.js';

export interface ProfileResult {
  database: string;
  path: string;
  summary: string;
}

const TOP_FRAMES = 15;

export async function runProfileScenario(fake: FakeModel): Promise<ProfileResult[]> {
  const directory = join(BENCH_DIR, 'profiles');
  mkdirSync(directory, { recursive: true });
  const results: ProfileResult[] = [];
  for (const database of settings.databases) {
    // --cpu-prof in BENCH_SERVER_NODE_ARGS would profile this server's whole life on top: leave it out here.
    const nodeArgs = [...settings.serverNodeArgs.filter((arg) => !arg.startsWith('--cpu-prof')), '--inspect=127.0.0.1:0'];
    const server = await startTokenDance(fake, database, { nodeArgs });
    try {
      await warmUp([server], fake);
      const profiler = await InspectorProfiler.connect(server.inspectorUrl!);
      const { mode, concurrency } = settings.profile;
      const tokens = tokensPerRun(mode, concurrency);
      let profile: Profile | undefined;
      // Exactly the window whose CPU the bench counts: session set-up before it is left out.
      const window = { opened: () => profiler.start(), closed: async () => void (profile = await profiler.stop()) };
      const sample = await measure(server, fake, { count: concurrency, turn: turnFor(mode, tokens), expectedTokens: tokens, window });
      profiler.close();
      if (!profile) throw new Error('the profiler returned no profile');
      const path = join(directory, `tokendance-${database}-${mode}-c${concurrency}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
      writeFileSync(path, JSON.stringify(profile));
      const summary = summarizeProfile(profile, path, TOP_FRAMES);
      const line = sampleLine(`profiled     ${mode} c=${concurrency}`, server.label, sample);
      console.log(`\nCPU profile of tokendance (${database}) during ${mode} c=${concurrency} (the profiler slows the server):\n${line}\n${summary}`);
      results.push({ database, path, summary: `${line}\n\n${summary}` });
    } finally {
      await server.stop();
    }
  }
  return results;
}
