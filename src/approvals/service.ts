import { conflict, notFound } from '../core/errors.js';
import { isoNow } from '../core/ids.js';
import type { EventLog } from '../events/log.js';
import type { SessionsService } from '../sessions/service.js';
import type { ApprovalRow } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { presentApprovalDetails, presentApprovalRequest } from './present.js';

/** What answering an approval needs from the runtime: continue the run that waits for it. */
export interface RunWaker {
  /** Resumes a parked run if none of its approvals is still pending; a no-op otherwise. */
  wake(runId: string): Promise<void>;
}

export interface ApprovalAnswer {
  request_id: string;
  approved: boolean;
  user_feedback: string | null;
  responded_at: string;
}

/**
 * The HITL API (§6): listing, reading and answering approval requests, and expiring the ones
 * nobody answered. An answer is a conditional update of the row (pending → answered), so it
 * counts exactly once whichever endpoint or process receives it; then the run is woken.
 */
export class ApprovalsService {
  waker?: RunWaker;

  constructor(
    private readonly store: Store,
    private readonly sessions: SessionsService,
    private readonly log: EventLog,
  ) {}

  async listPending(userId: string, sessionId: string) {
    await this.sessions.requireAccess(userId, sessionId);
    return (await this.store.approvals.listPending(sessionId)).map(presentApprovalRequest);
  }

  async get(userId: string, requestId: string) {
    const approval = await this.requireAccess(userId, requestId);
    return presentApprovalDetails(approval);
  }

  /** `sessionId` restricts the answer to one session (the chat endpoint's path). */
  async answer(userId: string, requestId: string, approved: boolean, feedback: string | undefined, sessionId?: string): Promise<ApprovalAnswer> {
    const approval = await this.requireAccess(userId, requestId);
    if (sessionId !== undefined && approval.session_id !== sessionId) throw notFound('Approval request');
    if (approval.status === 'pending' && Date.parse(approval.expires_at) <= Date.now()) {
      await this.expire(approval);
      throw conflict('The approval request has expired');
    }
    const respondedAt = isoNow();
    const won = await this.store.approvals.resolve(approval.id, {
      status: approved ? 'approved' : 'rejected',
      feedback: feedback ?? null,
      responded_by: userId,
      responded_at: respondedAt,
    });
    if (!won) {
      const current = await this.store.approvals.findById(approval.id);
      throw conflict(current?.status === 'expired' ? 'The approval request has expired' : 'The approval request was already answered');
    }
    await this.announce(approval, { approved, feedback: feedback ?? null });
    await this.waker?.wake(approval.run_id);
    return { request_id: approval.id, approved, user_feedback: feedback ?? null, responded_at: respondedAt };
  }

  /** Expires every pending request past its deadline (including ones that expired while the server was down). */
  async expireDue(): Promise<number> {
    const due = await this.store.approvals.listExpired(isoNow());
    let expired = 0;
    for (const approval of due) if (await this.expire(approval)) expired++;
    return expired;
  }

  /** A run that ends (stopped, failed) takes its open questions with it. */
  async closeForRun(runId: string): Promise<void> {
    for (const approval of await this.store.approvals.listPendingForRun(runId)) {
      if (await this.store.approvals.resolve(approval.id, { status: 'expired', feedback: 'The run ended before an answer', responded_by: null, responded_at: isoNow() })) {
        await this.announce(approval, { approved: false, feedback: null, expired: true });
      }
    }
  }

  private async expire(approval: ApprovalRow): Promise<boolean> {
    const won = await this.store.approvals.resolve(approval.id, { status: 'expired', feedback: null, responded_by: null, responded_at: isoNow() });
    if (!won) return false;
    await this.announce(approval, { approved: false, feedback: null, expired: true });
    await this.waker?.wake(approval.run_id);
    return true;
  }

  private async announce(approval: ApprovalRow, outcome: { approved: boolean; feedback: string | null; expired?: boolean }): Promise<void> {
    await this.log.append(approval.session_id, approval.run_id, 'confirm_resolved', {
      action_id: approval.id,
      call_id: approval.call_id,
      tool: approval.tool,
      approved: outcome.approved,
      feedback: outcome.feedback,
      ...(outcome.expired ? { expired: true } : {}),
      run_id: approval.run_id,
    });
  }

  /** 404 for unknown ids, 403 for requests in sessions the user may not see. */
  private async requireAccess(userId: string, requestId: string): Promise<ApprovalRow> {
    const approval = await this.store.approvals.findById(requestId);
    if (!approval) throw notFound('Approval request');
    await this.sessions.requireAccess(userId, approval.session_id);
    return approval;
  }
}
