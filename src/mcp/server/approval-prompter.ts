import type { ElicitRequestFormParams, ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { AppError } from '../../core/errors.js';

/** The `confirm_required` payload of the event log (src/approvals/present.ts). */
export interface ApprovalPrompt {
  action_id: string;
  tool: string;
  args: unknown;
  description: string;
  risk_level: string;
  expires_at: string;
}

export type Elicit = (params: ElicitRequestFormParams, options: { signal: AbortSignal; timeout: number }) => Promise<ElicitResult>;

export interface ApprovalPrompterDeps {
  elicit: Elicit;
  /** The §6 approval path (ApprovalsService.answer, as the calling user). */
  answer(requestId: string, approved: boolean, feedback: string | undefined): Promise<unknown>;
  isPending(requestId: string): Promise<boolean>;
  /** The client gave no answer (dismissed, failed): the request stays pending for the HITL API. */
  onUnanswered(requestId: string): void;
  /** Aborted when the tool call ends or is cancelled. */
  signal: AbortSignal;
  log(message: string, fields: Record<string, unknown>): void;
}

const FEEDBACK_MAX = 10_000;
const ARGS_MAX = 2_000;
/** A little beyond the request's expiry, so the server's expiry decides, not a client timeout race. */
const EXPIRY_SLACK_MS = 2_000;

/**
 * Asks the MCP client's user to approve a paused tool call through elicitation, and records the
 * answer through the same path as the HITL API, so it counts once whichever side answers first.
 * Several requests may be open at once (parallel tool calls); each is asked independently.
 */
export class ApprovalPrompter {
  private readonly open = new Map<string, AbortController>();
  private readonly asks = new Set<Promise<void>>();

  constructor(private readonly deps: ApprovalPrompterDeps) {}

  ask(prompt: ApprovalPrompt): void {
    if (this.open.has(prompt.action_id)) return;
    const controller = new AbortController();
    this.open.set(prompt.action_id, controller);
    const asking = this.run(prompt, AbortSignal.any([controller.signal, this.deps.signal]))
      .catch((error: unknown) => {
        this.deps.log('recording the approval answer failed; the request stays pending', { request_id: prompt.action_id, error: (error as Error).message });
        return this.leavePending(prompt.action_id);
      })
      .catch(() => {})
      .finally(() => {
        this.open.delete(prompt.action_id);
        this.asks.delete(asking);
      });
    this.asks.add(asking);
  }

  /** The request was answered elsewhere (HITL API, another client) or expired: withdraw the question. */
  withdraw(requestId: string): void {
    this.open.get(requestId)?.abort();
  }

  /** Withdraws every open question and waits until they are settled. */
  async close(): Promise<void> {
    for (const controller of this.open.values()) controller.abort();
    await Promise.all(this.asks);
  }

  private async run(prompt: ApprovalPrompt, signal: AbortSignal): Promise<void> {
    let result: ElicitResult;
    try {
      const timeout = Math.max(1_000, Date.parse(prompt.expires_at) - Date.now() + EXPIRY_SLACK_MS);
      result = await this.deps.elicit(approvalForm(prompt), { signal, timeout });
    } catch (error) {
      if (signal.aborted) return;
      this.deps.log('approval elicitation failed; the request stays pending', { request_id: prompt.action_id, error: (error as Error).message });
      return this.leavePending(prompt.action_id);
    }
    if (signal.aborted) return;
    if (result.action === 'cancel') return this.leavePending(prompt.action_id);
    const content = result.action === 'accept' ? (result.content ?? {}) : {};
    const approved = result.action === 'accept' && content.approve === true;
    const feedback = typeof content.feedback === 'string' && content.feedback.trim() !== '' ? content.feedback.slice(0, FEEDBACK_MAX) : undefined;
    try {
      await this.deps.answer(prompt.action_id, approved, feedback);
    } catch (error) {
      // Answered elsewhere first, or expired meanwhile: the run goes on either way.
      if (error instanceof AppError && error.code === 'CONFLICT') return;
      throw error;
    }
  }

  private async leavePending(requestId: string): Promise<void> {
    if (await this.deps.isPending(requestId)) this.deps.onUnanswered(requestId);
  }
}

function approvalForm(prompt: ApprovalPrompt): ElicitRequestFormParams {
  let args = JSON.stringify(prompt.args ?? {}, null, 2);
  if (args.length > ARGS_MAX) args = `${args.slice(0, ARGS_MAX)}…`;
  return {
    mode: 'form',
    message: [
      `TokenDance asks for approval to run the tool "${prompt.tool}" (risk: ${prompt.risk_level}).`,
      prompt.description,
      `Arguments:\n${args}`,
      `Request ${prompt.action_id}; unanswered, it expires at ${prompt.expires_at} and counts as rejected.`,
    ].join('\n\n'),
    requestedSchema: {
      type: 'object',
      properties: {
        approve: { type: 'boolean', title: 'Approve', description: `Run ${prompt.tool} with exactly these arguments`, default: false },
        feedback: { type: 'string', title: 'Feedback', description: 'Optional note for the agent (why, or what to do instead)', maxLength: FEEDBACK_MAX },
      },
      required: ['approve'],
    },
  };
}
