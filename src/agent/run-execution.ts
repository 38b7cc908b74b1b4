import { ApprovalGate } from '../approvals/gate.js';
import { isoNow } from '../core/ids.js';
import { WorkingMemory } from '../memory/working-memory.js';
import type { AccessedSession } from '../store/repositories/sessions.js';
import type { MessageRow, RunRow, SessionRow } from '../store/schema.js';
import { parsePolicyJson } from '../tools/policy.js';
import { runAgentLoop } from './loop.js';
import { StoreRunRecorder } from './recorder.js';
import { RunFailure } from './run-failure.js';
import type { RunManagerDeps } from './run-manager.js';
import { bindTools } from './workspace-tools.js';

/**
 * What the caller that starts a run has already read, saving the run those reads: its session
 * (read with an access check, with its workspace's tool policy too) and, for a new run, the
 * conversation so far.
 */
export interface RunStart {
  session?: SessionRow | AccessedSession;
  history?: MessageRow[];
}

/**
 * One pass of a run's loop, from its stored state to its end: builds the session's tools,
 * approval gate and working memory, runs the agent loop and records completion (`done`,
 * `run_finished`). Throws what the loop throws (a failure, a park, a shutdown) for the run
 * manager to handle. Resolves with whether a queued run of the session may wait to start.
 */
export async function executeRun(deps: RunManagerDeps, run: RunRow, signal: AbortSignal, resumed: boolean, start: RunStart = {}): Promise<boolean> {
  const { store, config } = deps;
  const startedAt = Date.parse(run.started_at ?? isoNow());
  const recorder = new StoreRunRecorder(store, deps.log, run.session_id, run.id);
  const known = start.session;
  const session = known ?? (await store.sessions.findById(run.session_id));
  if (!session) return false;
  const profile = deps.profiles.get(session.task_type) ?? deps.profiles.get('general')!;
  const workspaceDir = await deps.directories.ensure(run.session_id);
  const policyJson = known && 'workspace_tool_policy' in known ? known.workspace_tool_policy : (await store.workspaces.findById(session.workspace_id))?.tool_policy;
  const workspacePolicy = parsePolicyJson(policyJson);
  const tools = bindTools({
    registry: deps.tools,
    store,
    recorder,
    sessionId: run.session_id,
    runId: run.id,
    workspaceDir,
    timeoutMs: config.tool_timeout_s * 1000,
    maxResultChars: config.tool_result_max_chars,
    allowed: profile.tools,
    workspacePolicy,
    observer: deps.observer,
  });
  const result = await runAgentLoop({
    model: profile.model ? deps.models.modelFor(profile.model) : deps.models.model,
    tools,
    recorder,
    systemPrompt: profile.systemPrompt,
    history: start.history ?? (await store.messages.all(run.session_id)),
    images: deps.images,
    ...(deps.images ? { saveToolImage: (image: { mediaType: string; dataBase64: string }, name: string) => deps.images!.saveImage(run.user_id, image, name) } : {}),
    maxIterations: profile.maxIterations ?? config.max_iterations,
    signal,
    resumeFrom: resumed ? { iterations: run.iterations, usage: { inputTokens: Number(run.input_tokens), outputTokens: Number(run.output_tokens) } } : undefined,
    workingMemory: new WorkingMemory(workspaceDir, run.session_id),
    gate: new ApprovalGate({
      registry: deps.tools,
      store,
      recorder,
      sessionId: run.session_id,
      runId: run.id,
      workspacePolicy,
      approvalTimeoutS: config.approval_timeout_s,
      profileTools: profile.tools,
    }),
  });

  const finishedAt = isoNow();
  const durationMs = Date.now() - startedAt;
  const completed = {
    iterations: result.iterations,
    input_tokens: result.usage.inputTokens,
    output_tokens: result.usage.outputTokens,
    finished_at: finishedAt,
  };
  const ending = await recorder.saveEnd(completed, { sessionId: run.session_id, usage: result.usage, outcome: 'completed', at: finishedAt }, result.finalMessage);
  // Lost to a stop: the stop settles the session, and a queued run may wait.
  if (ending === 'lost') return true;
  deps.observer.runFinished('completed', durationMs, result.usage);
  // A run's artifacts come from its own tool calls: none written in this pass of a run that was never interrupted, none to read.
  const recorded = resumed || tools.wroteFiles() ? await store.artifacts.listForRun(run.id) : [];
  const artifacts = recorded.map((artifact) => ({ id: artifact.id, name: artifact.name, path: artifact.path, size: Number(artifact.size) }));
  // Appended together, so they share one commit.
  await Promise.all([
    ...(result.content ? [recorder.emit('message_completed', { content: result.content, iteration: result.iterations })] : []),
    recorder.emit('done', {
      message: 'Task completed',
      content: result.content,
      artifacts,
      usage: { input_tokens: result.usage.inputTokens, output_tokens: result.usage.outputTokens },
      iterations: result.iterations,
      duration_ms: durationMs,
    }),
    recorder.emit('run_finished', { success: true, state: 'completed', turns: result.iterations, duration_ms: durationMs }),
  ]);
  return ending === 'queued';
}

/**
 * Ends a run as failed or cancelled, once (the state transition decides who records it): closes
 * its open approval requests, settles the session and emits `error` and `run_finished`.
 */
export async function recordFailure(deps: RunManagerDeps, run: RunRow, error: unknown, startedAt: number): Promise<void> {
  const { store } = deps;
  const failure = error instanceof RunFailure ? error : new RunFailure('INTERNAL_ERROR', 'The run failed unexpectedly');
  if (!(error instanceof RunFailure)) deps.logger.error({ err: error, run_id: run.id }, 'run failed');
  const cancelled = failure.code === 'CANCELLED';
  const current = await store.runs.findById(run.id);
  const won = await store.runs.transition(run.id, ['running', 'waiting_approval'], {
    state: cancelled ? 'cancelled' : 'failed',
    error: failure.message,
    error_code: failure.code,
    finished_at: isoNow(),
  });
  if (!won) return;
  await deps.approvals.closeForRun(run.id);
  await deps.log.drain();
  const usage = { inputTokens: Number(current?.input_tokens ?? 0), outputTokens: Number(current?.output_tokens ?? 0) };
  await store.sessions.settleAfterRun(run.session_id, usage, cancelled ? 'completed' : 'error', isoNow());
  deps.observer.runFinished(cancelled ? 'cancelled' : 'failed', Date.now() - startedAt, usage);
  const durationMs = Date.now() - startedAt;
  const emit = (type: 'error' | 'run_finished', data: Record<string, unknown>) => deps.log.append(run.session_id, run.id, type, { ...data, run_id: run.id });
  await Promise.all([
    emit('error', { message: failure.message, code: failure.code }),
    emit('run_finished', { success: false, state: cancelled ? 'cancelled' : 'failed', turns: current?.iterations ?? 0, duration_ms: durationMs }),
  ]);
}
