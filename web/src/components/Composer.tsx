import { useSignal } from '@preact/signals';
import type { ChatSession } from '../state/chat-session';

/** The message box: Enter sends, Shift+Enter starts a new line; Stop ends the run in progress. */
export function Composer({ chat, busy }: { chat: ChatSession; busy: boolean }) {
  const text = useSignal('');
  const stopping = useSignal(false);

  const send = () => {
    const content = text.value.trim();
    if (!content || busy) return;
    text.value = '';
    void chat.send(content);
  };
  const stop = async () => {
    stopping.value = true;
    try {
      await chat.stop();
    } finally {
      stopping.value = false;
    }
  };
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  };

  return (
    <form
      class="composer"
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
    >
      <label for="composer-input" class="visually-hidden">
        Message
      </label>
      <textarea
        id="composer-input"
        rows={2}
        maxLength={100000}
        placeholder={busy ? 'The agent is working… (Stop to interrupt)' : 'Give the agent a task (Enter to send, Shift+Enter for a new line)'}
        value={text.value}
        onInput={(event) => (text.value = event.currentTarget.value)}
        onKeyDown={onKeyDown}
      />
      {busy ? (
        <button type="button" class="danger" onClick={() => void stop()} disabled={stopping.value}>
          Stop
        </button>
      ) : (
        <button type="submit" class="primary" disabled={!text.value.trim()}>
          Send
        </button>
      )}
    </form>
  );
}
