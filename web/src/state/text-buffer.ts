import { batch, signal } from '@preact/signals';

const dirty = new Set<TextBuffer>();
let flushScheduled = false;

function flush(): void {
  flushScheduled = false;
  batch(() => {
    for (const buffer of dirty) buffer.text.value = buffer.raw;
  });
  dirty.clear();
}

/**
 * Streamed text (an answer or a model's reasoning). Deltas are appended to `raw` as they arrive;
 * the `text` signal, which the view reads, takes the new value at most once per animation frame,
 * so 100 tokens a second cost the page one update per frame, not one per token.
 */
export class TextBuffer {
  raw = '';
  readonly text = signal('');
  /** Set once the text is final: the view renders it one last time, in full. */
  readonly done = signal(false);

  constructor(initial = '', done = false) {
    this.raw = initial;
    this.text.value = initial;
    this.done.value = done;
  }

  append(delta: string): void {
    if (!delta) return;
    this.raw += delta;
    dirty.add(this);
    if (!flushScheduled) {
      flushScheduled = true;
      requestAnimationFrame(flush);
    }
  }

  /** The text is complete (the run ended or the turn went on to tools). */
  finish(): void {
    dirty.delete(this);
    batch(() => {
      this.text.value = this.raw;
      this.done.value = true;
    });
  }
}
