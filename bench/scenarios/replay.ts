/**
 * Replay (issue 8 item 5), per database:
 *  (a) session: a session holding ≥ 10 000 events (chat runs whose model streams
 *      BENCH_REPLAY_TOKENS_PER_RUN tokens); a client reconnects to
 *      GET /api/v1/sessions/{id}/stream with `Last-Event-ID: 0` (cursor 0 lies at or after the
 *      compaction point and before the head, so it replays everything) and reads until the
 *      session's head event — the id of the `status` frame a cursor-less connection opens with.
 *      Target: < 100 ms, median of BENCH_REPLAY_TRIES reads.
 *  (b) Service API: ≥ 100 000 frames of history on /api/stream (POST /api/execute runs, queued
 *      FIFO on the user's service session); a client reads from `Last-Event-ID: 0` as fast as it
 *      can up to the last frame a live reader saw while the history was made. Target:
 *      ≥ 100 000 events/s.
 * A first read of each history is untimed and verifies it (every frame once, in order, all
 * tokens, stamps non-decreasing); the timed reads then only check ids and counts.
 */
import type { FakeModel } from '../model-process.js';
import { readEvents, type ReadResult } from '../replay-client.js';
import { cpuDeltaMs, readCpu } from '../proc.js';
import { runStream } from '../sse-client.js';
import { type DatabaseKind, settings } from '../settings.js';
import { fmt, median } from '../stats.js';
import type { BenchUser, TokenDanceTarget } from '../targets.js';
import { parseStamps } from '../../test/support/fake-openai.js';

export interface ReplayMeasurement {
  database: DatabaseKind;
  kind: 'session' | 'service stream';
  events: number;
  runs: number;
  buildMs: number;
  /** Each timed read's elapsed time. */
  tries: number[];
  medianMs: number;
  eventsPerSecond: number;
  /** Server CPU per timed read. */
  serverCpuMs: number;
  /** Bench client CPU as a share of the read's wall time (median). */
  clientCpuShare: number;
  problems: string[];
}

const READ_TIMEOUT_MS = 120_000;
/** Hard stop on history building, in case runs produce far fewer events than tokens. */
const MAX_RUNS = 40;

/** Untimed first read: every frame once and in order, all the tokens, stamps never going back. */
function verifyingReader(contentType: 'content' | 'assistant_message_delta', problems: string[]) {
  let tokens = 0;
  let lastStamp = Number.NEGATIVE_INFINITY;
  return {
    onEvent: (message: { event?: string; data: string }) => {
      // Session frames are named (`event: content`); Service API frames are typed inside their JSON.
      const isToken = contentType === 'content' ? message.event === 'content' : message.data.includes(`"type":"${contentType}"`);
      if (!isToken) return;
      const data = JSON.parse(message.data) as { text?: string; delta?: string };
      const text = (contentType === 'content' ? data.text : data.delta) ?? '';
      for (const stamp of parseStamps(text)) {
        tokens += 1;
        if (stamp < lastStamp && problems.length < 5) problems.push(`token out of order in replay: ${stamp} after ${lastStamp}`);
        lastStamp = stamp;
      }
    },
    tokens: () => tokens,
  };
}

async function timedReads(target: TokenDanceTarget, url: string, token: string, headId: number, expectedFrames: number, tries: number, problems: string[]) {
  const reads: ReadResult[] = [];
  const cpuBefore = readCpu(target.pid);
  for (let attempt = 0; attempt < tries; attempt++) {
    const read = await readEvents(url, { token, lastEventId: 0, stopAtId: headId, timeoutMs: READ_TIMEOUT_MS }).result;
    if (read.frames !== expectedFrames) problems.push(`timed read ${attempt + 1}: ${read.frames} frames, expected ${expectedFrames}`);
    problems.push(...read.problems.map((text) => `timed read ${attempt + 1}: ${text}`));
    reads.push(read);
  }
  const serverCpuMs = cpuDeltaMs(cpuBefore, readCpu(target.pid)) / reads.length;
  const medianMs = median(reads.map((read) => read.elapsedMs));
  return {
    tries: reads.map((read) => read.elapsedMs),
    medianMs,
    eventsPerSecond: expectedFrames / (medianMs / 1000),
    serverCpuMs,
    clientCpuShare: median(reads.map((read) => read.clientCpuMs / read.elapsedMs)),
  };
}

async function sessionReplay(target: TokenDanceTarget, fake: FakeModel, user: BenchUser): Promise<ReplayMeasurement> {
  const problems: string[] = [];
  const tokensPerRun = settings.replay.tokensPerRun;
  await fake.setTurn({ tokens: tokensPerRun, stampTokens: true });
  const sessionId = await target.createSession(user);
  const streamUrl = `${target.url}/api/v1/sessions/${sessionId}/stream`;
  const buildStarted = performance.now();
  let runs = 0;
  let headId = 0;
  let frames = 0;
  let verified: ReadResult | undefined;
  while (runs < MAX_RUNS) {
    const run = await runStream(`${target.url}/api/v1/chat/${sessionId}/message`, {
      token: user.token,
      body: { content: 'go' },
      expectedTokens: tokensPerRun,
      timeoutMs: READ_TIMEOUT_MS,
    });
    runs += 1;
    if (run.problems.length) throw new Error(`building the replay session (${target.label}) failed: ${run.problems.join('; ')}`);
    // A cursor-less connection opens with `status`, whose id is the session's head.
    const head = await readEvents(streamUrl, { token: user.token, onEvent: () => true, timeoutMs: READ_TIMEOUT_MS }).result;
    headId = head.lastId;
    const verifier = verifyingReader('content', problems);
    verified = await readEvents(streamUrl, { token: user.token, lastEventId: 0, stopAtId: headId, onEvent: verifier.onEvent, timeoutMs: READ_TIMEOUT_MS }).result;
    frames = verified.frames;
    problems.push(...verified.problems.map((text) => `verifying read: ${text}`));
    if (verifier.tokens() !== runs * tokensPerRun) problems.push(`verifying read: ${verifier.tokens()} tokens, expected ${runs * tokensPerRun}`);
    if (frames >= settings.replay.sessionEvents || problems.length) break;
  }
  const buildMs = performance.now() - buildStarted;
  const timed = await timedReads(target, streamUrl, user.token, headId, frames, settings.replay.tries, problems);
  return { database: target.database, kind: 'session', events: frames, runs, buildMs, ...timed, problems };
}

async function serviceStreamReplay(target: TokenDanceTarget, fake: FakeModel, user: BenchUser): Promise<ReplayMeasurement> {
  const problems: string[] = [];
  const tokensPerRun = settings.replay.tokensPerRun;
  await fake.setTurn({ tokens: tokensPerRun, stampTokens: true });
  const streamUrl = `${target.url}/api/stream`;
  // A live reader from now on: its frame count and last id define the history the replay must deliver.
  let liveFrames = 0;
  let lastId = 0;
  let completed = 0;
  let waiting: { count: number; resolve: () => void } | undefined;
  const live = readEvents(streamUrl, {
    token: user.token,
    timeoutMs: 30 * 60_000,
    onEvent: (message) => {
      liveFrames += 1;
      lastId = Number(message.id);
      if (message.data.includes('"type":"task_completed"')) {
        completed += 1;
        if (waiting && completed >= waiting.count) waiting.resolve();
      }
    },
  });
  await live.opened;
  const buildStarted = performance.now();
  let runs = 0;
  const execute = async (count: number) => {
    const finished = new Promise<void>((resolve) => (waiting = { count: runs + count, resolve }));
    for (let index = 0; index < count; index++) {
      const response = await target.api('POST', '/api/execute', { token: user.token, body: { prompt: 'go' } });
      if (response.status !== 200) throw new Error(`POST /api/execute failed: ${response.status} ${response.text}`);
    }
    runs += count;
    if (completed < runs) await finished;
  };
  await execute(Math.max(1, Math.ceil(settings.replay.streamEvents / tokensPerRun)));
  while (liveFrames < settings.replay.streamEvents && runs < MAX_RUNS) await execute(1);
  // Frames written after task_completed (none today) still belong to the history.
  await new Promise((resolve) => setTimeout(resolve, 300));
  live.close();
  const liveRead = await live.result;
  problems.push(...liveRead.problems.map((text) => `live read: ${text}`));
  const buildMs = performance.now() - buildStarted;

  const verifier = verifyingReader('assistant_message_delta', problems);
  const verified = await readEvents(streamUrl, { token: user.token, lastEventId: 0, stopAtId: lastId, onEvent: verifier.onEvent, timeoutMs: READ_TIMEOUT_MS }).result;
  problems.push(...verified.problems.map((text) => `verifying read: ${text}`));
  if (verified.frames !== liveFrames) problems.push(`verifying read: ${verified.frames} frames, the live reader saw ${liveFrames}`);
  if (verifier.tokens() !== runs * tokensPerRun) problems.push(`verifying read: ${verifier.tokens()} tokens, expected ${runs * tokensPerRun}`);
  const timed = await timedReads(target, streamUrl, user.token, lastId, liveFrames, settings.replay.streamTries, problems);
  return { database: target.database, kind: 'service stream', events: liveFrames, runs, buildMs, ...timed, problems };
}

export async function runReplayScenario(targets: TokenDanceTarget[], fake: FakeModel): Promise<{ results: ReplayMeasurement[]; lines: string[] }> {
  const results: ReplayMeasurement[] = [];
  const lines: string[] = [];
  for (const target of targets) {
    for (const measureReplay of [sessionReplay, serviceStreamReplay]) {
      // A user of its own per history, so one history never shows up in the other's stream.
      const result = await measureReplay(target, fake, await target.newUser());
      const line =
        `replay ${target.label.padEnd(19)} ${result.kind.padEnd(14)} ${result.events} events (${result.runs} runs, built in ${fmt(result.buildMs / 1000)} s): ` +
        `${result.tries.map((ms) => fmt(ms)).join(' / ')} ms → median ${fmt(result.medianMs)} ms, ${fmt(result.eventsPerSecond, 0)} events/s, ` +
        `server cpu ${fmt(result.serverCpuMs, 0)} ms/read, client cpu ${fmt(100 * result.clientCpuShare, 0)}% of wall` +
        (result.problems.length ? `  PROBLEMS: ${result.problems.slice(0, 3).join('; ')}` : '');
      lines.push(line);
      console.log(line);
      results.push(result);
    }
  }
  return { results, lines };
}
