import { useEffect, useRef } from 'preact/hooks';
import type { ChatSession } from '../state/chat-session';
import { TurnView } from './TurnView';

/** How close to the bottom still counts as following the answer. */
const FOLLOW_PX = 80;

/** The conversation. While the reader is at the bottom it follows the growing answer. */
export function MessageList({ chat }: { chat: ChatSession }) {
  const scroller = useRef<HTMLDivElement>(null);
  const content = useRef<HTMLElement>(null);
  const following = useRef(true);

  useEffect(() => {
    const element = scroller.current!;
    const onScroll = () => {
      following.current = element.scrollHeight - element.scrollTop - element.clientHeight < FOLLOW_PX;
    };
    element.addEventListener('scroll', onScroll, { passive: true });
    const observer = new ResizeObserver(() => {
      if (following.current) element.scrollTop = element.scrollHeight;
    });
    observer.observe(content.current!);
    return () => {
      element.removeEventListener('scroll', onScroll);
      observer.disconnect();
    };
  }, []);

  const turns = chat.model.turns.value;
  return (
    <div class="messages" ref={scroller} tabIndex={-1}>
      {/* Not a live region (role="log"): a screen reader would read out every streamed token. */}
      <section ref={content} class="messages-content" aria-label="Conversation">
        {chat.hasEarlier.value && (
          <button type="button" class="link-button" onClick={() => void chat.loadEarlier()}>
            Show earlier messages
          </button>
        )}
        {!chat.loading.value && turns.length === 0 && <p class="empty muted">Send a message to give the agent a task.</p>}
        {turns.map((turn) => (
          <TurnView key={turn.key} turn={turn} />
        ))}
      </section>
    </div>
  );
}
