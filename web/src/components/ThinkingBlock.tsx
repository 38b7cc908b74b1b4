import type { TextBuffer } from '../state/text-buffer';

/** The model's reasoning, collapsed by default; the text node updates without re-rendering. */
export function ThinkingBlock({ buffer }: { buffer: TextBuffer }) {
  return (
    <details class="thinking">
      <summary>{buffer.done.value ? 'Thinking' : 'Thinking…'}</summary>
      <div class="thinking-text">{buffer.text}</div>
    </details>
  );
}
