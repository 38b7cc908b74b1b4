import { signal } from '@preact/signals';
import { ApiError, messageOf } from '../api/client';
import {
  answerApproval,
  listArtifacts,
  listMessages,
  pendingApprovals,
  sendMessage,
  sessionDetails,
  stopRun,
  workingMemory,
} from '../api/endpoints';
import type { Approval, Artifact, Message, PendingApprovalRecord, SessionDetails, WorkingMemory } from '../api/types';
import { type ConnectionState, SessionStream, type StreamEvent } from '../stream/session-stream';
import { rememberRunStart, runStartOf } from '../stream/run-start';
import { ChatModel } from './chat-model';

const PAGE = 200;
const LIVE_STATES = new Set(['running', 'waiting_approval']);

const approvalOf = (record: PendingApprovalRecord): Approval => ({
  id: record.request_id,
  runId: record.run_id,
  callId: record.context.call_id,
  tool: record.context.tool,
  args: record.context.args,
  operation: record.operation,
  description: record.description,
  risk: record.risk_level,
  expiresAt: record.expires_at,
});

function debounce(action: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(action, ms);
  };
}

/**
 * One open session: loads what is stored, keeps the session stream running, and carries out the
 * user's actions (send, stop, approve). How the page is rebuilt:
 * - finished runs come from the stored messages;
 * - a run still going is replayed from its first event (the cursor this tab kept, else the start
 *   of the log, skipping older runs), so after a reload its answer is whole and not doubled;
 * - after a network drop the stream resumes at the last cursor it applied;
 * - a `reset` (history compacted away) reloads the stored state and goes on live from there.
 */
export class ChatSession {
  readonly connection = signal<ConnectionState>('connecting');
  readonly loading = signal(true);
  readonly error = signal<string | null>(null);
  readonly details = signal<SessionDetails | null>(null);
  readonly artifacts = signal<Artifact[]>([]);
  readonly memory = signal<WorkingMemory | null>(null);
  readonly hasEarlier = signal(false);
  readonly model: ChatModel;
  private stream: SessionStream | null = null;
  /** Events that arrive while stored state is reloaded; applied after it. */
  private held: StreamEvent[] | null = null;
  private oldestMessageId: string | undefined;
  private messageTotal = 0;
  private verifiedOpening = false;
  private closed = false;

  constructor(
    readonly sessionId: string,
    private readonly onStatus: (sessionId: string, status: string) => void,
  ) {
    this.model = new ChatModel({
      promptNeeded: (turn) => void this.findPrompt(turn),
      workingMemoryChanged: debounce(() => void this.refreshMemory(), 200),
      artifactsChanged: debounce(() => void this.refreshArtifacts(), 200),
      runStarted: (runId, cursorBefore) => rememberRunStart(sessionId, runId, cursorBefore),
      sessionStatusChanged: (status) => {
        if (this.details.value) this.details.value = { ...this.details.value, status: status as SessionDetails['status'] };
        this.onStatus(sessionId, status);
      },
    });
  }

  async open(): Promise<void> {
    try {
      const live = await this.loadStored(true);
      if (this.closed) return;
      const after = live ? (runStartOf(this.sessionId, live.id) ?? 0) : undefined;
      this.startStream(after);
    } catch (error) {
      this.error.value = messageOf(error);
    } finally {
      this.loading.value = false;
    }
  }

  close(): void {
    this.closed = true;
    this.stream?.close();
  }

  /**
   * Stored messages, pending approvals, artifacts and working memory. Returns the live run, whose
   * messages are left out: its events are replayed instead (when `replayLive`).
   */
  private async loadStored(replayLive: boolean): Promise<{ id: string; state: string } | null> {
    const [details, page, pending] = await Promise.all([sessionDetails(this.sessionId), listMessages(this.sessionId, PAGE), pendingApprovals(this.sessionId)]);
    void this.refreshArtifacts();
    void this.refreshMemory();
    const run = details.current_run && LIVE_STATES.has(details.current_run.state) ? details.current_run : null;
    let history: Message[] = page.items;
    let prompt: string | null = null;
    if (run) {
      // The live run's prompt is the last user message, stored when the run began.
      const index = page.items.findLastIndex((message) => message.role === 'user');
      const message = page.items[index];
      if (message && (!run.started_at || message.created_at >= run.started_at)) {
        history = page.items.slice(0, index);
        prompt = message.content;
      }
    }
    this.details.value = details;
    this.messageTotal = page.total;
    this.oldestMessageId = page.items[0]?.id;
    this.hasEarlier.value = page.total > page.items.length;
    this.model.reset(history, run ? { runId: run.id, state: run.state, prompt, replayFromStart: replayLive } : null);
    this.model.setPendingApprovals(pending.map(approvalOf));
    return run;
  }

  private startStream(after: number | undefined): void {
    this.verifiedOpening = after !== undefined;
    this.stream = new SessionStream({
      sessionId: this.sessionId,
      after,
      onEvent: (event) => this.receive(event),
      onConnection: (state) => (this.connection.value = state),
      onFatal: (error) => (this.error.value = error.status === 404 ? 'This session no longer exists.' : error.message),
    });
    this.stream.start();
  }

  private receive(event: StreamEvent): void {
    if (this.closed) return;
    if (event.event === 'reset') return void this.afterReset();
    if (this.held) {
      this.held.push(event);
      return;
    }
    if (!this.verifiedOpening && event.event === 'status' && event.data?.session_status !== undefined) {
      this.verifiedOpening = true;
      void this.verifyOpening(event);
    }
    this.model.apply(event);
  }

  /**
   * A stream opened without a cursor starts at the log's head. A run that began between reading
   * the messages and that head would be half missing: if one did, load again from the start.
   */
  private async verifyOpening(status: StreamEvent): Promise<void> {
    let changed = status.data.run !== null && status.data.run !== undefined;
    if (!changed) {
      try {
        changed = (await listMessages(this.sessionId, 1)).total !== this.messageTotal;
      } catch {
        return;
      }
    }
    if (!changed || this.closed) return;
    this.stream?.close();
    this.loading.value = true;
    await this.open();
  }

  /** The stream's cursor fell into compacted history: reload the stored state, then go on live. */
  private async afterReset(): Promise<void> {
    this.held = [];
    try {
      await this.loadStored(false);
    } catch (error) {
      this.error.value = messageOf(error);
    }
    const held = this.held;
    this.held = null;
    for (const event of held) this.model.apply(event);
  }

  async loadEarlier(): Promise<void> {
    if (!this.oldestMessageId) return;
    const page = await listMessages(this.sessionId, PAGE, this.oldestMessageId);
    this.oldestMessageId = page.items[0]?.id ?? this.oldestMessageId;
    this.hasEarlier.value = page.items.length === PAGE;
    this.model.prependHistory(page.items);
  }

  async send(content: string): Promise<void> {
    const turn = this.model.addSentPrompt(content);
    try {
      await sendMessage(this.sessionId, content);
    } catch (error) {
      this.model.sendFailed(turn, messageOf(error));
    }
  }

  async stop(): Promise<void> {
    await stopRun(this.sessionId);
  }

  /** Returns an error message to show, or null when the answer was taken. */
  async answer(approval: Approval, approved: boolean, feedback: string): Promise<string | null> {
    try {
      await answerApproval(approval.id, approved, feedback.trim() || undefined);
      this.model.removeApproval(approval.id);
      return null;
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        this.model.removeApproval(approval.id);
        return 'This request was already answered or has expired.';
      }
      return messageOf(error);
    }
  }

  private async findPrompt(turn: { prompt: { value: string | null } }): Promise<void> {
    try {
      const page = await listMessages(this.sessionId, 20);
      turn.prompt.value = page.items.findLast((message) => message.role === 'user')?.content ?? null;
    } catch {
      // The prompt stays unknown; the run itself still shows.
    }
  }

  private async refreshArtifacts(): Promise<void> {
    try {
      this.artifacts.value = (await listArtifacts(this.sessionId)).items;
    } catch {
      // Shown stale until the next change.
    }
  }

  private async refreshMemory(): Promise<void> {
    try {
      this.memory.value = await workingMemory(this.sessionId);
    } catch {
      // Shown stale until the next change.
    }
  }
}
