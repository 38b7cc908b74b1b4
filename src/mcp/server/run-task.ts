import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { notFound, validationError } from '../../core/errors.js';
import { SessionFollower } from '../../events/session-follower.js';
import { type ApprovalPrompt, ApprovalPrompter, type Elicit } from './approval-prompter.js';
import type { McpCaller, McpServerDeps } from './deps.js';
import { ProgressReporter } from './progress-reporter.js';
import type { RunTaskOutput } from './tool-schemas.js';

export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface RunTaskInput {
  prompt: string;
  session_id?: string;
  task_type?: string;
}

/** How this tool call may talk back to the client. */
export interface TaskChannel {
  extra: ToolExtra;
  /** Set when the client declared form elicitation: approvals are then asked in the client. */
  elicit?: Elicit;
}

const TITLE_CHARS = 80;

/**
 * `run_task`: starts a run through the run manager and follows its events in the log until it
 * ends, reporting progress meanwhile. Approvals are asked through elicitation when the client can;
 * otherwise (or when the client's user does not answer) the call returns early and the approval
 * waits for the HITL API. Cancelling the call stops the run; the MCP session closing does not.
 */
export async function runTask(deps: McpServerDeps, caller: McpCaller, input: RunTaskInput, channel: TaskChannel): Promise<CallToolResult> {
  const { extra } = channel;
  const { userId } = caller;
  const session = await sessionFor(deps, userId, input);
  // Cancelled while the session was being prepared: start nothing.
  if (extra.signal.aborted) return { content: [{ type: 'text', text: 'The task was cancelled before it started.' }], isError: true };
  const { run, startSeq } = await deps.runs.startChat(userId, session.id, input.prompt);
  const base = { task_id: run.id, session_id: session.id };
  const follower = new SessionFollower(deps.log, deps.bus, session.id, startSeq - 1);
  const token = extra._meta?.progressToken;
  const reporter = new ProgressReporter(
    token === undefined ? undefined : (progress, message) => extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, message } }),
    deps.progressIntervalMs,
    deps.heartbeatMs,
  );

  let early: CallToolResult | undefined;
  const waitingResult = async (): Promise<CallToolResult | undefined> => {
    const pending = (await deps.approvals.listPending(userId, session.id)).filter((request) => request.run_id === run.id);
    return pending.length > 0 ? waitingForApproval(base, pending) : undefined;
  };
  const stopFollowing = new AbortController();
  const prompter =
    channel.elicit &&
    new ApprovalPrompter({
      elicit: channel.elicit,
      answer: (requestId, approved, feedback) => deps.approvals.answer(userId, requestId, approved, feedback),
      isPending: async (requestId) => (await deps.approvals.get(userId, requestId)).status === 'pending',
      onUnanswered: () =>
        void waitingResult()
          .then((result) => {
            if (result && !early) {
              early = result;
              follower.close();
            }
          })
          .catch(() => {}),
      signal: AbortSignal.any([extra.signal, stopFollowing.signal]),
      log: (message, fields) => deps.warn({ ...fields, session_id: session.id, run_id: run.id }, message),
    });

  let cancelled = false;
  const onAbort = () => {
    cancelled = !caller.isClosing();
    follower.close();
  };
  extra.signal.addEventListener('abort', onAbort, { once: true });
  if (extra.signal.aborted) onAbort();
  try {
    for (let event = await follower.next(); event; event = await follower.next()) {
      if (event.runId !== run.id) continue;
      reporter.observe(event);
      const data = event.data;
      if (event.type === 'confirm_required') prompter?.ask(data as unknown as ApprovalPrompt);
      else if (event.type === 'confirm_resolved') prompter?.withdraw(String(data.action_id));
      else if (event.type === 'status' && data.state === 'waiting_approval' && !prompter) {
        const result = await waitingResult();
        if (result) return result;
      } else if (event.type === 'done') {
        const answer = String(data.content ?? '');
        const artifacts = Array.isArray(data.artifacts) ? (data.artifacts as RunTaskOutput['artifacts']) : [];
        return structured({ ...base, status: 'completed', answer, artifacts }, answer || '(The task finished without a text answer.)');
      } else if (event.type === 'error') {
        const code = String(data.code ?? 'INTERNAL_ERROR');
        const status = code === 'CANCELLED' ? 'cancelled' : 'failed';
        return { ...structured({ ...base, status, error_code: code }, `The task ${status === 'cancelled' ? 'was cancelled' : 'failed'} (${code}): ${String(data.message ?? '')}`), isError: true };
      }
    }
    if (early) return early;
    if (cancelled) {
      await deps.runs.stopSession(session.id, 'cancelled by the MCP client');
      return { ...structured({ ...base, status: 'cancelled', error_code: 'CANCELLED' }, 'The task was cancelled.'), isError: true };
    }
    return {
      content: [{ type: 'text', text: `The MCP session closed while the task was running; it goes on in session ${session.id} (see get_session).` }],
      isError: true,
    };
  } finally {
    extra.signal.removeEventListener('abort', onAbort);
    follower.close();
    stopFollowing.abort();
    await prompter?.close();
    await reporter.finish();
  }
}

/** The session the task runs in: the given one (the start checks access again in its own statement), or a new one. */
async function sessionFor(deps: McpServerDeps, userId: string, input: RunTaskInput): Promise<{ id: string }> {
  if (input.session_id) {
    const session = await deps.sessions.requireAccess(userId, input.session_id);
    if (input.task_type !== undefined && input.task_type !== session.task_type) {
      throw validationError(`task_type applies to new sessions; session ${session.id} is "${session.task_type}"`);
    }
    return session;
  }
  const workspaceId = await deps.defaultWorkspaceOf(userId);
  if (!workspaceId) throw notFound('Default workspace');
  const title = input.prompt.replace(/\s+/g, ' ').trim().slice(0, TITLE_CHARS) || 'MCP task';
  return deps.sessions.create(userId, { workspace_id: workspaceId, title, task_type: input.task_type });
}

function structured(output: RunTaskOutput, text: string): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: output };
}

function waitingForApproval(
  base: { task_id: string; session_id: string },
  pending: Array<{ request_id: string; description: string; risk_level: string; context: { tool: string } }>,
): CallToolResult {
  const lines = pending.map((request) => `- ${request.request_id}: ${request.context.tool} — ${request.description} (risk: ${request.risk_level})`);
  const first = pending[0]!.request_id;
  const text = [
    `The task is waiting for approval (session ${base.session_id}, task ${base.task_id}):`,
    ...lines,
    `Answer with POST /api/v1/hitl/{request_id}/confirm and the body {"approved": true} or {"approved": false, "user_feedback": "…"}, e.g. POST /api/v1/hitl/${first}/confirm.`,
    'The task then continues on its own; call get_session with the session_id to read its result.',
  ].join('\n');
  return structured({ ...base, status: 'waiting_for_approval', request_id: first, request_ids: pending.map((request) => request.request_id) }, text);
}
