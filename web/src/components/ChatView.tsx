import { useSignal, useSignalEffect } from '@preact/signals';
import { useEffect, useMemo } from 'preact/hooks';
import { ChatSession } from '../state/chat-session';
import { updateSessionStatus } from '../state/sessions';
import { selectWorkspace } from '../state/workspaces';
import { ApprovalDialog } from './ApprovalDialog';
import { ArtifactsPanel } from './ArtifactsPanel';
import { Composer } from './Composer';
import { MessageList } from './MessageList';
import { StatusBadge } from './StatusBadge';
import { WorkingMemoryPanel } from './WorkingMemoryPanel';

const CONNECTION_LABELS = { connecting: 'Connecting…', open: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline: will reconnect', closed: 'Disconnected' };
const ACTIVE = new Set(['sending', 'running', 'waiting_approval']);

/** One session: the conversation, the composer, approvals, and the memory and files panel. */
export function ChatView({ sessionId }: { sessionId: string }) {
  const chat = useMemo(() => new ChatSession(sessionId, updateSessionStatus), [sessionId]);
  const panelOpen = useSignal(false);
  useEffect(() => {
    void chat.open();
    return () => chat.close();
  }, [chat]);
  useSignalEffect(() => {
    const workspaceId = chat.details.value?.workspace_id;
    if (workspaceId) selectWorkspace(workspaceId);
  });

  const details = chat.details.value;
  const busy = chat.model.turns.value.some((turn) => ACTIVE.has(turn.state.value));
  const connection = chat.connection.value;
  return (
    <div class={`chat ${panelOpen.value ? 'panel-open' : ''}`}>
      <section class="conversation" aria-labelledby="session-title">
        <header class="chat-header">
          <h1 id="session-title">{details?.title ?? 'Session'}</h1>
          {details && <StatusBadge status={details.status} />}
          <span class={`connection connection-${connection}`} role="status" aria-live="polite">
            {CONNECTION_LABELS[connection]}
          </span>
          <button type="button" class="panel-toggle" aria-expanded={panelOpen.value} aria-controls="session-panel" onClick={() => (panelOpen.value = !panelOpen.value)}>
            Memory &amp; files
          </button>
        </header>
        {chat.error.value && (
          <p class="error banner" role="alert">
            {chat.error.value}
          </p>
        )}
        <MessageList chat={chat} />
        <Composer chat={chat} busy={busy} />
      </section>
      <aside id="session-panel" class="session-panel" aria-label="Working memory and files">
        <button type="button" class="panel-close" onClick={() => (panelOpen.value = false)}>
          Close
        </button>
        <WorkingMemoryPanel memory={chat.memory.value} />
        <ArtifactsPanel artifacts={chat.artifacts.value} />
      </aside>
      <ApprovalDialog chat={chat} />
    </div>
  );
}
