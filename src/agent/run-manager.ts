import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config/schema.js';
import { conflict, unavailable } from '../core/errors.js';
import { KeyedLock } from '../core/keyed-lock.js';
import { LoopTurns } from '../core/loop-turns.js';
import { isoNow, newId } from '../core/ids.js';
import type { EventLog } from '../events/log.js';
import { accessibleSession } from '../sessions/access.js';
import type { RunControl } from '../sessions/run-control.js';
import type { SessionDirectories } from '../sessions/workspace-dir.js';
import type { RunRow, SessionRow } from '../store/schema.js';
import type { Store } from '../store/store.js';
import type { ToolRegistry } from '../tools/registry.js';
import { RunParked } from './loop.js';
import { executeRun, type RunStart, recordFailure } from './run-execution.js';
import type { RunWaker } from '../approvals/service.js';
import type { AgentProfile } from './profiles.js';
import type { BuiltProviders } from './providers/from-config.js';
import { StoreRunRecorder } from './recorder.js';
import { RunFailure } from './run-failure.js';
import type { RunObserver } from './run-observer.js';
import type { ImageStore, StoredImage } from './conversation.js';
import { imagesOfRunInput, runInputJson } from './run-input.js';

export interface RunManagerDeps {
  store: Store;
  log: EventLog;
  models: BuiltProviders;
  tools: ToolRegistry;
  profiles: Map<string, AgentProfile>;
  directories: SessionDirectories;
  config: Config['agent'];
  toolPolicy: Config['tools']['policy'];
  logger: FastifyBaseLogger;
  observer: RunObserver;
  /** Closes the open approval requests of a run that ends. */
  approvals: { closeForRun(runId: string): Promise<void> };
  /** Reads images attached to messages (the uploads store); without it they reach the model as a note. */
  images?: ImageStore;
}

interface ActiveRun {
  sessionId: string;
  controller: AbortController;
  finished: Promise<void>;
}

/** Aborting with this leaves the run resumable: the next start picks it up. */
class ShutdownSignal extends Error {
  constructor() {
    super('server shutting down');
  }
}

/**
 * Owns the runs of this process: starts them (one live run per session, further Service API
 * tasks queued FIFO: service-tasks.ts), stops them, and on start-up resumes whatever a previous
 * process left.
 */
export class RunManager implements RunControl, RunWaker {
  private readonly active = new Map<string, ActiveRun>();
  /** Serializes start decisions per session within this process; the database index guards across processes. */
  private readonly sessionLocks = new KeyedLock();
  /**
   * Starts go one per turn of the event loop: a hundred arriving at once would otherwise run back
   * to back (on SQLite without any I/O between their statements) while every stream waits.
   */
  private readonly startTurns = new LoopTurns();
  private shuttingDown = false;

  constructor(private readonly deps: RunManagerDeps) {}

  /**
   * Starts a chat run now: 404/403 as for every session route (checked in the same statement as
   * the start), 409 when the session already has a run running or queued.
   */
  async startChat(userId: string, sessionId: string, content: string, images: StoredImage[] = []): Promise<{ run: RunRow; startSeq: number }> {
    await this.startTurns.next();
    this.refuseWhileShuttingDown();
    return this.sessionLocks.run(sessionId, async () => {
      const run = { ...this.newRun(userId, sessionId, 'chat', content, 'running'), input: runInputJson(images) };
      const recorder = this.recorderOf(run);
      let attempt;
      try {
        attempt = await recorder.saveNewRun(run, userMessage(run));
      } catch (error) {
        // Another process started one between the check and the insert: the one-live-run index refused this one.
        if (await this.deps.store.runs.findLive(sessionId)) throw conflict('The session already has an active run');
        throw error;
      }
      const session = accessibleSession(attempt.access);
      if (!attempt.history) throw conflict('The session already has an active run');
      const startSeq = await this.announce(run, recorder, { session, history: attempt.history });
      return { run, startSeq };
    });
  }

  /** A Service API task on its session: runs now, or queues behind the session's active run. */
  async startOrQueue(userId: string, session: SessionRow, prompt: string): Promise<{ run: RunRow; status: 'started' | 'queued' }> {
    await this.startTurns.next();
    this.refuseWhileShuttingDown();
    const outcome = await this.sessionLocks.run(session.id, async () => {
      const busy = await this.deps.store.runs.hasLiveOrQueued(session.id);
      const run = this.newRun(userId, session.id, 'execute', prompt, busy ? 'queued' : 'running');
      await this.deps.store.runs.create(run);
      if (busy) return { run, status: 'queued' as const };
      await this.begin(run, { session });
      return { run, status: 'started' as const };
    });
    // The run it queued behind may have ended between the busy check and the insert, its end
    // seeing nothing queued: then nobody else starts this one. startNext starts it only if no run
    // of the session is live, and only once (the queued → running transition decides).
    if (outcome.status === 'queued') this.startNextInBackground(session.id);
    return outcome;
  }

  /** RunControl: cancels queued runs and the live run of a session. */
  async stopSession(sessionId: string, _reason: string): Promise<boolean> {
    let stopped = false;
    for (const queued of await this.deps.store.runs.listQueued(sessionId)) {
      stopped = (await this.deps.store.runs.transition(queued.id, ['queued'], { state: 'cancelled', error_code: 'CANCELLED', error: 'Cancelled before it started', finished_at: isoNow() })) || stopped;
    }
    const live = await this.deps.store.runs.findLive(sessionId);
    if (live) stopped = (await this.stopRun(live.id)) || stopped;
    return stopped;
  }

  /** Aborts a live run and waits (bounded) until it has recorded its end. */
  async stopRun(runId: string): Promise<boolean> {
    const active = this.active.get(runId);
    if (active) {
      active.controller.abort(new RunFailure('CANCELLED', 'Stopped by the user'));
      await Promise.race([active.finished, new Promise((resolve) => setTimeout(resolve, 1500).unref())]);
    }
    // A run parked for approval (or orphaned, or whose loop had just ended) has no loop to abort: end it here.
    const run = await this.deps.store.runs.findById(runId);
    if (!run || !['running', 'waiting_approval'].includes(run.state)) return Boolean(active);
    await recordFailure(this.deps, run, new RunFailure('CANCELLED', 'Stopped by the user'), Date.parse(run.started_at ?? run.created_at));
    return true;
  }

  /** Resumes runs a previous process left live, then starts queued ones. */
  async recover(): Promise<void> {
    const unfinished = await this.deps.store.runs.listUnfinished();
    for (const run of unfinished.filter((candidate) => candidate.state === 'running')) {
      this.deps.logger.warn({ run_id: run.id, session_id: run.session_id }, 'resuming a run interrupted by a restart');
      await this.deps.log.append(run.session_id, run.id, 'status', { run_id: run.id, state: 'running', resumed: true });
      this.launch(run, true);
    }
    // A run parked for approval stays parked; one whose answer arrived just before a crash continues.
    for (const run of unfinished.filter((candidate) => candidate.state === 'waiting_approval')) await this.wake(run.id);
    const queuedSessions = new Set(unfinished.filter((candidate) => candidate.state === 'queued').map((candidate) => candidate.session_id));
    for (const sessionId of queuedSessions) await this.startNext(sessionId);
  }

  /** Stops every loop without ending its run, so the next process resumes it. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    const running = [...this.active.values()];
    for (const active of running) active.controller.abort(new ShutdownSignal());
    await Promise.all(running.map((active) => active.finished));
    await this.deps.log.drain();
  }

  /**
   * RunWaker: continues a run parked for approval once none of its requests is pending. Whoever
   * wins the waiting_approval → running transition resumes it from the stored messages.
   */
  async wake(runId: string): Promise<void> {
    if (this.shuttingDown) return;
    if ((await this.deps.store.approvals.listPendingForRun(runId)).length > 0) return;
    if (!(await this.deps.store.runs.transition(runId, ['waiting_approval'], { state: 'running' }))) return;
    const run = await this.deps.store.runs.findById(runId);
    if (!run) return;
    await this.deps.log.append(run.session_id, run.id, 'status', { run_id: run.id, state: 'running', after: 'approval' });
    this.launch(run, true);
  }

  /** The loop stopped to wait for a human: the run becomes a row, no promise waits for the answer. */
  private async park(run: RunRow): Promise<void> {
    if (!(await this.deps.store.runs.transition(run.id, ['running'], { state: 'waiting_approval' }))) return;
    await this.deps.log.append(run.session_id, run.id, 'status', { run_id: run.id, state: 'waiting_approval' });
    // An answer that arrived before the transition could not wake the run: check again now.
    await this.wake(run.id);
  }

  refuseWhileShuttingDown(): void {
    if (this.shuttingDown) throw unavailable('The server is shutting down; retry shortly');
  }

  get activeCount(): number {
    return this.active.size;
  }

  private newRun(userId: string, sessionId: string, kind: 'chat' | 'execute', prompt: string, state: 'running' | 'queued'): RunRow {
    const now = isoNow();
    return {
      id: newId(),
      session_id: sessionId,
      user_id: userId,
      kind,
      state,
      prompt,
      input: null,
      answer: null,
      error: null,
      error_code: null,
      iterations: 0,
      input_tokens: 0,
      output_tokens: 0,
      checkpoint: null,
      owner_id: null,
      lease_expires_at: null,
      created_at: now,
      started_at: state === 'running' ? now : null,
      finished_at: null,
    };
  }

  private recorderOf(run: RunRow): StoreRunRecorder {
    return new StoreRunRecorder(this.deps.store, this.deps.log, run.session_id, run.id);
  }

  /** Records the start of a created run (session running, the user message, run_started) and launches it. */
  private async begin(run: RunRow, start?: RunStart): Promise<number> {
    const recorder = this.recorderOf(run);
    await recorder.saveStart(userMessage(run));
    return this.announce(run, recorder, start);
  }

  /** The run's start is saved: its first events, then its loop. Resolves with the cursor of `run_started`. */
  private async announce(run: RunRow, recorder: StoreRunRecorder, start?: RunStart): Promise<number> {
    // Both events go into the same commit: appended in order, awaited together.
    const [{ seq }] = await Promise.all([
      this.deps.log.append(run.session_id, run.id, 'run_started', { run_id: run.id, kind: run.kind, prompt: run.prompt }),
      recorder.emit('user_message', { content: run.prompt }),
    ]);
    this.launch(run, false, start);
    return seq;
  }

  /** `start`: what the caller has already read for the run (see RunStart), saving the run those reads. */
  private launch(run: RunRow, resumed: boolean, start?: RunStart): void {
    const controller = new AbortController();
    const timeout = setTimeout(
      () => controller.abort(new RunFailure('TIMEOUT', `Run exceeded run_timeout_s (${this.deps.config.run_timeout_s} s)`)),
      this.deps.config.run_timeout_s * 1000,
    );
    timeout.unref();
    const finished = this.runLoop(run, controller.signal, resumed, start)
      .catch((error) => {
        this.deps.logger.error({ err: error, run_id: run.id }, 'run bookkeeping failed');
        return true;
      })
      .then((queuedMayWait) => {
        clearTimeout(timeout);
        this.active.delete(run.id);
        if (queuedMayWait) this.startNextInBackground(run.session_id);
      });
    this.active.set(run.id, { sessionId: run.session_id, controller, finished });
  }

  /** Resolves with whether a queued run of the session may wait to start (false only when the run's end said none does). */
  private async runLoop(run: RunRow, signal: AbortSignal, resumed: boolean, start?: RunStart): Promise<boolean> {
    const startedAt = Date.parse(run.started_at ?? isoNow());
    try {
      return await executeRun(this.deps, run, signal, resumed, start);
    } catch (error) {
      if (error instanceof ShutdownSignal) return true;
      if (error instanceof RunParked) await this.park(run);
      else await recordFailure(this.deps, run, error, startedAt);
      return true;
    }
  }

  private startNextInBackground(sessionId: string): void {
    if (this.shuttingDown) return;
    void this.startNext(sessionId).catch((error) => this.deps.logger.error({ err: error }, 'could not start the next queued run'));
  }

  private async startNext(sessionId: string): Promise<void> {
    await this.sessionLocks.run(sessionId, async () => {
      const active = await this.deps.store.runs.listActive(sessionId);
      if (active.some((run) => run.state !== 'queued')) return;
      const next = active[0];
      if (!next) return;
      const startedAt = isoNow();
      if (!(await this.deps.store.runs.transition(next.id, ['queued'], { state: 'running', started_at: startedAt }))) return;
      await this.begin({ ...next, state: 'running', started_at: startedAt });
    });
  }


}

function userMessage(run: RunRow) {
  return { role: 'user' as const, content: run.prompt, attachments: imagesOfRunInput(run.input) };
}
