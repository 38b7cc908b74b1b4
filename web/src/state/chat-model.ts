import { batch, signal, type Signal } from '@preact/signals';
import type { Approval, Message } from '../api/types';
import type { StreamEvent } from '../stream/session-stream';
import { TextBuffer } from './text-buffer';

export interface ToolResult {
  text: string;
  /** null for tool results read back from history, which do not record it. */
  success: boolean | null;
  durationMs: number | null;
}

export type ApprovalState = 'pending' | 'approved' | 'rejected';

export type Block =
  | { kind: 'thinking'; key: string; iteration: number; buffer: TextBuffer }
  | { kind: 'text'; key: string; iteration: number; buffer: TextBuffer }
  | {
      kind: 'tool';
      key: string;
      callId: string;
      tool: string;
      args: unknown;
      risk: string | null;
      result: Signal<ToolResult | null>;
      approval: Signal<ApprovalState | null>;
    }
  | { kind: 'notice'; key: string; tone: 'error' | 'info'; text: string };

export type TurnState = 'sending' | 'running' | 'waiting_approval' | 'completed' | 'failed' | 'cancelled' | 'history';

export interface TurnSummary {
  iterations?: number;
  durationMs?: number;
  inputTokens?: number;
  outputTokens?: number;
  artifacts: Array<{ id: string; name: string }>;
}

/** One prompt and what the agent did with it (one run, or its stored messages). */
export interface Turn {
  key: string;
  prompt: Signal<string | null>;
  runId: string | null;
  state: Signal<TurnState>;
  blocks: Signal<Block[]>;
  summary: Signal<TurnSummary | null>;
  /** The run was resumed after a restart: its interrupted model turn streams again from the start. */
  restartPending: boolean;
  /** Events of this run were lost (history compacted): the final answer is taken from `done`. */
  incomplete: boolean;
}

export interface ChatModelHooks {
  /** A run began that this page did not send: find its prompt. */
  promptNeeded(turn: Turn): void;
  workingMemoryChanged(): void;
  artifactsChanged(): void;
  runStarted(runId: string, cursorBefore: number): void;
  sessionStatusChanged(status: string): void;
}

let keys = 0;
const nextKey = () => `k${++keys}`;

function newTurn(prompt: string | null, runId: string | null, state: TurnState): Turn {
  return {
    key: nextKey(),
    prompt: signal(prompt),
    runId,
    state: signal(state),
    blocks: signal([]),
    summary: signal(null),
    restartPending: false,
    incomplete: false,
  };
}

const parseArgs = (json: string): unknown => {
  try {
    return JSON.parse(json);
  } catch {
    return json;
  }
};

/**
 * The conversation as the page shows it: stored messages for what is finished, the session
 * stream's events for the run in progress. Pure state: fetching is the controller's job.
 */
export class ChatModel {
  readonly turns = signal<Turn[]>([]);
  readonly approvals = signal<Approval[]>([]);
  private readonly byRun = new Map<string, Turn>();
  /** While replaying a live run from a point before it, events before its start are skipped. */
  private skipUntilRun: string | null = null;

  constructor(private readonly hooks: ChatModelHooks) {}

  /** Rebuilds from stored messages; `live` is the run still going, whose events will be replayed. */
  reset(messages: Message[], live: { runId: string; state: string; prompt: string | null; replayFromStart: boolean } | null): void {
    this.byRun.clear();
    const turns = turnsFromMessages(messages);
    if (live) {
      const turn = newTurn(live.prompt, live.runId, live.state === 'waiting_approval' ? 'waiting_approval' : 'running');
      turn.incomplete = !live.replayFromStart;
      this.byRun.set(live.runId, turn);
      turns.push(turn);
    }
    this.skipUntilRun = live?.replayFromStart ? live.runId : null;
    batch(() => {
      this.turns.value = turns;
      this.approvals.value = [];
    });
  }

  /** Older stored messages, shown above the others. */
  prependHistory(messages: Message[]): void {
    const older = turnsFromMessages(messages);
    const current = [...this.turns.value];
    const first = current[0];
    const last = older.at(-1);
    // A page boundary inside a turn: the newer page's first turn has no prompt; join them.
    if (first && last && first.prompt.peek() === null && first.state.peek() === 'history') {
      last.blocks.value = [...last.blocks.value, ...first.blocks.value];
      current.shift();
    }
    this.turns.value = [...older, ...current];
  }

  /** A prompt this page just sent; its run attaches when the run's first event arrives. */
  addSentPrompt(prompt: string): Turn {
    const turn = newTurn(prompt, null, 'sending');
    this.turns.value = [...this.turns.value, turn];
    return turn;
  }

  sendFailed(turn: Turn, message: string): void {
    batch(() => {
      turn.state.value = 'failed';
      this.push(turn, { kind: 'notice', key: nextKey(), tone: 'error', text: message });
    });
  }

  setPendingApprovals(approvals: Approval[]): void {
    const known = new Set(this.approvals.value.map((approval) => approval.id));
    const added = approvals.filter((approval) => !known.has(approval.id));
    if (added.length) this.approvals.value = [...this.approvals.value, ...added];
    for (const approval of added) this.markApproval(approval.runId, approval.callId, 'pending');
  }

  removeApproval(id: string): void {
    this.approvals.value = this.approvals.value.filter((approval) => approval.id !== id);
  }

  apply(event: StreamEvent): void {
    const data = event.data ?? {};
    if (this.skipUntilRun) {
      if (!(event.event === 'status' && data.run_id === this.skipUntilRun && data.kind !== undefined)) return;
      this.skipUntilRun = null;
    }
    batch(() => this.reduce(event, data));
  }

  private reduce(event: StreamEvent, data: any): void {
    switch (event.event) {
      case 'status':
        return this.status(event, data);
      case 'thinking':
        return this.delta(data, 'thinking', String(data.reasoning ?? ''));
      case 'content':
        return this.delta(data, 'text', String(data.text ?? ''));
      case 'tool_call': {
        const turn = this.turnOf(data.run_id);
        if (!turn) return;
        this.restartIfPending(turn, Number(data.iteration ?? 0));
        this.finishOpenText(turn);
        if (turn.blocks.value.some((block) => block.kind === 'tool' && block.callId === data.call_id)) return;
        this.push(turn, toolBlock(String(data.call_id), String(data.tool), data.args, data.risk_level ?? null));
        return;
      }
      case 'tool_result': {
        const block = this.toolOf(data.run_id, data.call_id);
        if (block) block.result.value = { text: String(data.result ?? ''), success: Boolean(data.success), durationMs: Number(data.duration_ms ?? 0) };
        return;
      }
      case 'confirm_required': {
        const approval: Approval = {
          id: String(data.action_id),
          runId: String(data.run_id),
          callId: String(data.call_id ?? ''),
          tool: String(data.tool),
          args: data.args,
          operation: String(data.operation ?? data.tool),
          description: String(data.description ?? ''),
          risk: data.risk_level ?? 'medium',
          expiresAt: String(data.expires_at),
        };
        this.setPendingApprovals([approval]);
        // Also when the request was already listed (a replay): its tool card exists only now.
        this.markApproval(approval.runId, approval.callId, 'pending');
        const turn = this.turnOf(data.run_id);
        if (turn) turn.state.value = 'waiting_approval';
        return;
      }
      case 'confirm_resolved':
        this.removeApproval(String(data.action_id));
        this.markApproval(String(data.run_id), String(data.call_id), data.approved ? 'approved' : 'rejected');
        return;
      case 'working_memory':
        return this.hooks.workingMemoryChanged();
      case 'artifact':
        return this.hooks.artifactsChanged();
      case 'done':
        return this.done(data);
      case 'error':
        return this.failed(data);
      default:
        return;
    }
  }

  private status(event: StreamEvent, data: any): void {
    // The opening snapshot of a stream without a cursor.
    if (data.session_status !== undefined) return this.hooks.sessionStatusChanged(String(data.session_status));
    const runId = data.run_id as string | undefined;
    if (!runId) return;
    if (data.kind !== undefined) return this.runStarted(runId, event.id);
    const turn = this.turnOf(runId);
    if (!turn) return;
    if (data.resumed) turn.restartPending = true;
    if (data.state === 'waiting_approval') turn.state.value = 'waiting_approval';
    else if (data.state === 'running') turn.state.value = 'running';
    else if (data.state === 'model_retrying' || data.state === 'model_fallback') {
      const what = data.state === 'model_fallback' ? `trying ${data.to ?? 'another provider'}` : `retrying (attempt ${data.attempt ?? '?'})`;
      this.push(turn, { kind: 'notice', key: nextKey(), tone: 'info', text: `The model is unavailable (${data.reason ?? data.http_status ?? 'error'}): ${what}` });
    }
  }

  private runStarted(runId: string, cursor: number | null): void {
    if (cursor !== null) this.hooks.runStarted(runId, cursor - 1);
    if (this.byRun.has(runId)) return;
    // The oldest prompt this page sent that has no run yet is this run's prompt.
    let turn = this.turns.value.find((candidate) => candidate.runId === null && candidate.state.value === 'sending');
    if (turn) turn.runId = runId;
    else {
      turn = newTurn(null, runId, 'running');
      this.turns.value = [...this.turns.value, turn];
      this.hooks.promptNeeded(turn);
    }
    turn.state.value = 'running';
    this.byRun.set(runId, turn);
    this.hooks.sessionStatusChanged('running');
  }

  private delta(data: any, kind: 'thinking' | 'text', text: string): void {
    const turn = this.turnOf(data.run_id);
    if (!turn || !text) return;
    const iteration = Number(data.iteration ?? 0);
    this.restartIfPending(turn, iteration);
    const blocks = turn.blocks.value;
    let block = blocks.findLast((candidate) => candidate.kind === kind && candidate.iteration === iteration) as Extract<Block, { kind: typeof kind }> | undefined;
    if (!block || block.buffer.done.peek()) {
      block = { kind, key: nextKey(), iteration, buffer: new TextBuffer() } as Extract<Block, { kind: typeof kind }>;
      // An answer that starts means the reasoning before it is complete.
      if (kind === 'text') for (const open of blocks) if (open.kind === 'thinking' && !open.buffer.done.peek()) open.buffer.finish();
      this.push(turn, block);
    }
    block.buffer.append(text);
  }

  /** A resumed run streams its interrupted model turn again: drop what that turn had shown. */
  private restartIfPending(turn: Turn, iteration: number): void {
    if (!turn.restartPending) return;
    turn.restartPending = false;
    turn.blocks.value = turn.blocks.value.filter((block) => !((block.kind === 'text' || block.kind === 'thinking') && block.iteration >= iteration));
  }

  private finishOpenText(turn: Turn): void {
    for (const block of turn.blocks.value) if ((block.kind === 'text' || block.kind === 'thinking') && !block.buffer.done.peek()) block.buffer.finish();
  }

  private done(data: any): void {
    const turn = this.turnOf(data.run_id);
    if (!turn) return;
    const texts = turn.blocks.value.filter((block): block is Extract<Block, { kind: 'text' }> => block.kind === 'text');
    const last = texts.at(-1);
    // Only when events were lost is the answer taken from `done`; otherwise the stream's own deltas stand.
    if (data.content && (texts.length === 0 || turn.incomplete)) {
      if (last && turn.incomplete && last.iteration === Number(data.iterations)) {
        last.buffer.raw = String(data.content);
        last.buffer.finish();
      } else this.push(turn, { kind: 'text', key: nextKey(), iteration: Number(data.iterations ?? 0), buffer: new TextBuffer(String(data.content), true) });
    }
    this.finishOpenText(turn);
    turn.state.value = 'completed';
    turn.summary.value = {
      iterations: data.iterations,
      durationMs: data.duration_ms,
      inputTokens: data.usage?.input_tokens,
      outputTokens: data.usage?.output_tokens,
      artifacts: Array.isArray(data.artifacts) ? data.artifacts.map((artifact: any) => ({ id: String(artifact.id), name: String(artifact.name ?? artifact.path) })) : [],
    };
    this.dropApprovalsOf(turn.runId);
    this.hooks.artifactsChanged();
    this.hooks.sessionStatusChanged('completed');
  }

  private failed(data: any): void {
    const turn = this.turnOf(data.run_id);
    if (!turn) return;
    this.finishOpenText(turn);
    const cancelled = data.code === 'CANCELLED';
    turn.state.value = cancelled ? 'cancelled' : 'failed';
    this.push(turn, { kind: 'notice', key: nextKey(), tone: cancelled ? 'info' : 'error', text: cancelled ? 'Stopped.' : `${data.message ?? 'The run failed'}${data.code ? ` (${data.code})` : ''}` });
    this.dropApprovalsOf(turn.runId);
    this.hooks.sessionStatusChanged(cancelled ? 'completed' : 'error');
  }

  private dropApprovalsOf(runId: string | null): void {
    if (runId) this.approvals.value = this.approvals.value.filter((approval) => approval.runId !== runId);
  }

  private markApproval(runId: string, callId: string, state: ApprovalState): void {
    const block = this.toolOf(runId, callId);
    if (block) block.approval.value = state;
  }

  private toolOf(runId: string, callId: string) {
    return this.turnOf(runId)?.blocks.value.find((block): block is Extract<Block, { kind: 'tool' }> => block.kind === 'tool' && block.callId === callId);
  }

  private turnOf(runId: unknown): Turn | undefined {
    return typeof runId === 'string' ? this.byRun.get(runId) : undefined;
  }

  private push(turn: Turn, block: Block): void {
    turn.blocks.value = [...turn.blocks.value, block];
  }
}

function turnsFromMessages(messages: Message[]): Turn[] {
  const turns: Turn[] = [];
  let current: Turn | null = null;
  const tools = new Map<string, Extract<Block, { kind: 'tool' }>>();
  for (const message of messages) {
    if (message.role === 'user') {
      current = newTurn(message.content, null, 'history');
      turns.push(current);
      continue;
    }
    if (message.role === 'system') continue;
    if (!current) {
      current = newTurn(null, null, 'history');
      turns.push(current);
    }
    const blocks = current.blocks.value;
    if (message.role === 'assistant') {
      if (message.content) blocks.push({ kind: 'text', key: nextKey(), iteration: 0, buffer: new TextBuffer(message.content, true) });
      for (const call of message.tool_calls ?? []) {
        const block = toolBlock(call.id, call.function.name, parseArgs(call.function.arguments), null);
        tools.set(call.id, block);
        blocks.push(block);
      }
    } else if (message.role === 'tool' && message.tool_call_id) {
      const block = tools.get(message.tool_call_id);
      if (block) block.result.value = { text: message.content, success: null, durationMs: null };
    }
  }
  return turns;
}

function toolBlock(callId: string, tool: string, args: unknown, risk: string | null): Extract<Block, { kind: 'tool' }> {
  return { kind: 'tool', key: nextKey(), callId, tool, args, risk, result: signal(null), approval: signal(null) };
}
