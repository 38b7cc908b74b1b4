import { isoNow, newId } from '../core/ids.js';
import type { GateDecision, RunRecorder, ToolCallGate } from '../agent/loop.js';
import type { ToolCallRequest } from '../agent/providers/types.js';
import type { Store } from '../store/store.js';
import { matchesAnyPattern, type ToolPolicyOverrides } from '../tools/policy.js';
import type { ToolRegistry } from '../tools/registry.js';
import { argsHash } from './args-hash.js';
import { presentApprovalEvent } from './present.js';

export interface ApprovalGateOptions {
  registry: ToolRegistry;
  store: Store;
  recorder: RunRecorder;
  sessionId: string;
  runId: string;
  /** The session's workspace policy, layered over `[tools.policy]`. */
  workspacePolicy: ToolPolicyOverrides | null;
  approvalTimeoutS: number;
  /** The profile's tool patterns; a call to a tool outside them is refused like a denied one. Undefined = every tool. */
  profileTools?: readonly string[];
}

/**
 * Policy and approvals for one run's tool calls. An `ask` call gets one approval row, bound to
 * its call id and the hash of its argument text; the answer is read back from that row when the
 * run resumes, so a pause survives restarts and any process can continue the run.
 */
export class ApprovalGate implements ToolCallGate {
  constructor(private readonly options: ApprovalGateOptions) {}

  async decide(call: ToolCallRequest): Promise<GateDecision> {
    const { registry, store, runId, workspacePolicy, profileTools } = this.options;
    // The model only sees the profile's tools, but may still name another: it must not run, nor ask a human.
    const known = registry.get(call.name);
    if (known && profileTools && !matchesAnyPattern(profileTools, known.name)) {
      return { action: 'refuse', riskLevel: 'low', firstSeen: true, output: `Tool "${call.name}" is not available in this session, so it was not run. Use only the tools you were given.` };
    }
    const parsed = registry.parseArgs(call.name, call.arguments);
    // Unknown tools and invalid arguments run into the registry's own error result.
    if (!parsed.ok) return { action: 'run', riskLevel: 'low', firstSeen: true };
    const riskLevel = parsed.tool.risk(parsed.args);
    const policy = registry.policyFor(parsed.tool.name, undefined, workspacePolicy);
    if (policy === 'deny') return { action: 'refuse', riskLevel, firstSeen: true, output: `Tool "${parsed.tool.name}" is denied by policy and was not run.` };
    if (policy === 'allow') return { action: 'run', riskLevel, firstSeen: true };

    const approval = await store.approvals.findByCall(runId, call.id);
    if (!approval) return { action: 'ask', riskLevel, firstSeen: true };
    const seen = { riskLevel, firstSeen: false };
    if (approval.args_hash !== argsHash(call.arguments)) {
      return { ...seen, action: 'refuse', output: 'Not run: the arguments differ from the ones the user was asked to approve.' };
    }
    switch (approval.status) {
      case 'pending':
        return { ...seen, action: 'wait' };
      case 'approved':
        return { ...seen, action: 'run', ...(approval.feedback ? { feedback: approval.feedback } : {}) };
      case 'rejected':
        return { ...seen, action: 'refuse', output: `Rejected by the user: the tool was not run.${approval.feedback ? ` Feedback: ${approval.feedback}` : ''}` };
      default:
        return { ...seen, action: 'refuse', output: 'The approval request expired without an answer, so the tool was not run (treated as rejected by the user).' };
    }
  }

  async requestApproval(call: ToolCallRequest, iteration: number): Promise<void> {
    const { registry, store, recorder, sessionId, runId, approvalTimeoutS } = this.options;
    const parsed = registry.parseArgs(call.name, call.arguments);
    if (!parsed.ok) throw new Error('requestApproval called for a call that does not parse');
    const { operation, description } = parsed.tool.describe(parsed.args);
    const now = Date.now();
    const row = {
      id: newId(),
      session_id: sessionId,
      run_id: runId,
      call_id: call.id,
      tool: parsed.tool.name,
      args: JSON.stringify(parsed.args),
      args_hash: argsHash(call.arguments),
      operation,
      description,
      risk_level: parsed.tool.risk(parsed.args),
      status: 'pending',
      feedback: null,
      responded_by: null,
      created_at: isoNow(),
      expires_at: new Date(now + approvalTimeoutS * 1000).toISOString(),
      responded_at: null,
    };
    await store.approvals.create(row);
    await recorder.emit('confirm_required', { ...presentApprovalEvent(row), iteration });
  }
}
