import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import type { Approval } from '../api/types';
import type { ChatSession } from '../state/chat-session';

const remaining = (expiresAt: string, now: number) => Math.max(0, Math.floor((Date.parse(expiresAt) - now) / 1000));
const clock = (seconds: number) => `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
const formatArgs = (args: unknown) => (typeof args === 'string' ? args : JSON.stringify(args, null, 2));

/**
 * Asks the user to approve or reject a tool call the run is paused on. A modal <dialog>: focus
 * moves into it, stays in it (the page behind is inert), and returns where it was when it closes.
 * Escape puts the decision off; a banner reopens it.
 */
export function ApprovalDialog({ chat }: { chat: ChatSession }) {
  const dismissed = useSignal<string | null>(null);
  const approvals = chat.model.approvals.value;
  const approval = approvals.find((candidate) => candidate.id !== dismissed.value) ?? null;
  const later = approvals.length > 0 && !approval;
  return (
    <>
      {later && (
        <div class="approval-banner" role="status">
          {approvals.length === 1 ? 'A tool call is waiting for your approval.' : `${approvals.length} tool calls are waiting for your approval.`}
          <button type="button" onClick={() => (dismissed.value = null)}>
            Review
          </button>
        </div>
      )}
      {approval && <ApprovalModal key={approval.id} chat={chat} approval={approval} onLater={() => (dismissed.value = approval.id)} />}
    </>
  );
}

function ApprovalModal({ chat, approval, onLater }: { chat: ChatSession; approval: Approval; onLater: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const rejectButton = useRef<HTMLButtonElement>(null);
  const feedback = useSignal('');
  const error = useSignal<string | null>(null);
  const busy = useSignal(false);
  const now = useSignal(Date.now());

  useEffect(() => {
    const element = dialog.current!;
    const returnTo = document.activeElement as HTMLElement | null;
    element.showModal();
    // The safe choice has focus, so a stray Enter never approves a risky action.
    rejectButton.current?.focus();
    const tick = setInterval(() => (now.value = Date.now()), 1000);
    return () => {
      clearInterval(tick);
      if (element.open) element.close();
      const target = returnTo?.isConnected && returnTo !== document.body ? returnTo : document.getElementById('composer-input');
      target?.focus();
    };
  }, []);

  const seconds = remaining(approval.expiresAt, now.value);
  const expired = seconds === 0;
  const answer = async (approved: boolean) => {
    busy.value = true;
    error.value = await chat.answer(approval, approved, feedback.value);
    busy.value = false;
  };

  return (
    <dialog
      ref={dialog}
      class="approval-dialog"
      aria-labelledby="approval-title"
      aria-describedby="approval-description"
      onCancel={(event) => {
        event.preventDefault();
        onLater();
      }}
    >
      <form
        method="dialog"
        class="stack"
        onSubmit={(event) => {
          event.preventDefault();
        }}
      >
        <h2 id="approval-title">Approve {approval.tool}?</h2>
        <p id="approval-description">{approval.description}</p>
        <dl class="approval-facts">
          <dt>Tool</dt>
          <dd>
            <code>{approval.tool}</code>
          </dd>
          <dt>Risk</dt>
          <dd>
            <span class={`risk risk-${approval.risk}`}>{approval.risk}</span>
          </dd>
          <dt>Expires</dt>
          <dd aria-live="off" class={seconds < 30 ? 'expiring' : undefined}>
            {expired ? 'expired (counted as a rejection)' : `in ${clock(seconds)}`}
          </dd>
        </dl>
        <h3>Arguments</h3>
        <pre class="tool-args">{formatArgs(approval.args)}</pre>
        <label>
          <span>
            Feedback for the agent <span class="muted">(optional)</span>
          </span>
          <textarea rows={2} maxLength={10000} value={feedback.value} onInput={(event) => (feedback.value = event.currentTarget.value)} />
        </label>
        {error.value && (
          <p class="error" role="alert">
            {error.value}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" onClick={onLater} disabled={busy.value}>
            Later
          </button>
          <button type="button" ref={rejectButton} class="danger" onClick={() => void answer(false)} disabled={busy.value || expired}>
            Reject
          </button>
          <button type="button" class="primary" onClick={() => void answer(true)} disabled={busy.value || expired}>
            Approve
          </button>
        </div>
      </form>
    </dialog>
  );
}
