import { renderMarkdown } from './render';

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
/** A link reference definition (`[name]: url`), which Markdown resolves across the whole text. */
const LINK_DEFINITION = /^ {0,3}\[[^\]\n]+\]:\s*\S/m;

/**
 * Renders an answer that is still growing. Re-rendering the whole text on every frame would cost
 * more with every token (a 50 000-token answer is ~200 KB of Markdown), so the text is cut at
 * block boundaries (a blank line outside a code fence, followed by a line that starts a new
 * block): everything before the last such boundary is rendered once into frozen chunks, and only
 * the open tail is rendered again. When the text is complete its tail is rendered a last time;
 * only a text with link reference definitions (resolved across the whole text) is rendered whole.
 * A text that arrives complete (history) is rendered once, whole.
 */
export class StreamingMarkdown {
  private readonly frozen: HTMLDivElement;
  private readonly tail: HTMLDivElement;
  /** Characters of the text rendered into frozen chunks. */
  private frozenLength = 0;
  private text = '';
  private final = false;
  private scheduled = 0;
  private lastRenderAt = 0;
  private lastRenderMs = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly onRendered: () => void = () => {},
  ) {
    this.frozen = document.createElement('div');
    this.tail = document.createElement('div');
    this.frozen.className = 'md-chunks';
    this.tail.className = 'md-chunks';
  }

  update(text: string, final: boolean): void {
    if (final) {
      if (this.final && text === this.text) return;
      cancelAnimationFrame(this.scheduled);
      this.scheduled = 0;
      this.final = true;
      this.text = text;
      // Chunks are exact unless a link reference defined in one is used in another; re-rendering
      // a long answer whole would stall the page, so that is done only when it matters.
      if (this.frozenLength === 0 || LINK_DEFINITION.test(text)) this.root.innerHTML = renderMarkdown(text);
      else this.renderChunks();
      this.onRendered();
      return;
    }
    // The text only grows (a restarted model turn gets a new block, not a shorter text).
    this.text = text;
    if (!this.scheduled) this.scheduled = requestAnimationFrame(() => this.renderStreaming());
  }

  dispose(): void {
    cancelAnimationFrame(this.scheduled);
  }

  private renderStreaming(): void {
    this.scheduled = 0;
    if (this.final) return;
    // Expensive renders (a huge code block in the tail) back off, so the page keeps up.
    const now = performance.now();
    if (now - this.lastRenderAt < this.lastRenderMs * 3) {
      this.scheduled = requestAnimationFrame(() => this.renderStreaming());
      return;
    }
    const started = performance.now();
    this.renderChunks();
    this.lastRenderAt = performance.now();
    this.lastRenderMs = this.lastRenderAt - started;
    this.onRendered();
  }

  /** Freezes complete blocks into chunks, then renders the open tail. */
  private renderChunks(): void {
    if (this.root.firstChild !== this.frozen) this.root.replaceChildren(this.frozen, this.tail);
    const boundary = lastBlockBoundary(this.text, this.frozenLength);
    if (boundary > this.frozenLength) {
      const chunk = document.createElement('div');
      chunk.innerHTML = renderMarkdown(this.text.slice(this.frozenLength, boundary));
      this.frozen.append(...chunk.childNodes);
      this.frozenLength = boundary;
    }
    this.tail.innerHTML = renderMarkdown(this.text.slice(this.frozenLength));
  }
}

/** The offset of the last safe block boundary after `from`, or `from` when there is none. */
export function lastBlockBoundary(text: string, from: number): number {
  let boundary = from;
  let fence: string | null = null;
  let previousBlank = false;
  let at = from;
  while (at < text.length) {
    const end = text.indexOf('\n', at);
    // The last line may still be growing: it is never a boundary.
    if (end === -1) break;
    const line = text.slice(at, end);
    const marker = FENCE.exec(line)?.[1];
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) fence = null;
      previousBlank = false;
    } else if (marker) {
      if (previousBlank) boundary = at;
      fence = marker;
      previousBlank = false;
    } else if (line.trim() === '') {
      previousBlank = true;
    } else {
      // A new block starts at column 0 after a blank line; indented lines may continue a list or code.
      if (previousBlank && !/^\s/.test(line)) boundary = at;
      previousBlank = false;
    }
    at = end + 1;
  }
  return boundary;
}
