import { effect } from '@preact/signals';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { StreamingMarkdown } from '../markdown/streaming';
import type { TextBuffer } from '../state/text-buffer';

/**
 * An answer rendered as Markdown. The text reaches the DOM through an effect, not through
 * Preact's render: a growing answer updates this element only (at most once a frame), never the
 * component tree around it; a finished answer is rendered once.
 */
export function MarkdownView({ buffer }: { buffer: TextBuffer }) {
  const ref = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const renderer = new StreamingMarkdown(ref.current!);
    const dispose = effect(() => renderer.update(buffer.text.value, buffer.done.value));
    return () => {
      dispose();
      renderer.dispose();
    };
  }, [buffer]);
  return <div ref={ref} class="markdown" data-role="answer" />;
}
