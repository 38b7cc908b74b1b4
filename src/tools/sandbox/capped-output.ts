/**
 * Collects a command's output while keeping memory bounded: the first and the last part are kept
 * and the middle is dropped, because the start (what ran) and the end (the error, the summary)
 * are what a reader needs. Limits are in characters; bytes are kept with room for 4-byte UTF-8.
 */
export class CappedOutput {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private readonly tail: Buffer[] = [];
  private tailBytes = 0;
  private totalBytes = 0;
  private readonly budgetBytes: number;

  constructor(private readonly maxChars: number) {
    this.budgetBytes = Math.max(1, maxChars) * 4;
  }

  push(chunk: Buffer): void {
    this.totalBytes += chunk.length;
    if (this.tail.length === 0 && this.headBytes < this.budgetBytes) {
      const room = this.budgetBytes - this.headBytes;
      this.head.push(chunk.subarray(0, room));
      this.headBytes += Math.min(room, chunk.length);
      if (chunk.length <= room) return;
      chunk = chunk.subarray(room);
    }
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    // Whole chunks only: the kept tail stays between budget and budget + one chunk.
    while (this.tail.length > 1 && this.tailBytes - this.tail[0]!.length >= this.budgetBytes) {
      this.tailBytes -= this.tail.shift()!.length;
    }
  }

  /** The output as text; `truncated` when the middle was dropped, with a note where it was. */
  render(): { text: string; truncated: boolean } {
    const head = Buffer.concat(this.head).toString('utf8');
    if (this.tail.length === 0 && head.length <= this.maxChars) return { text: head, truncated: false };

    const tailSource = this.tail.length > 0 ? Buffer.concat(this.tail).toString('utf8') : head;
    const first = cutAfter(head, Math.ceil(this.maxChars / 2));
    const last = cutBefore(tailSource, Math.floor(this.maxChars / 2));
    const omitted = Math.max(0, this.totalBytes - Buffer.byteLength(first) - Buffer.byteLength(last));
    const note =
      `[output truncated: ${this.totalBytes} bytes in all, ${omitted} bytes omitted here; ` +
      `showing the first ${first.length} and the last ${last.length} characters]`;
    return { text: `${first}\n${note}\n${last}`, truncated: true };
  }
}

/** First `count` UTF-16 units, never ending on the first half of a surrogate pair. */
function cutAfter(text: string, count: number): string {
  let end = Math.min(count, text.length);
  const code = text.charCodeAt(end - 1);
  if (end > 0 && code >= 0xd800 && code <= 0xdbff) end -= 1;
  return text.slice(0, end);
}

/** Last `count` UTF-16 units, never starting on the second half of a surrogate pair. */
function cutBefore(text: string, count: number): string {
  let start = Math.max(0, text.length - count);
  const code = text.charCodeAt(start);
  if (start < text.length && code >= 0xdc00 && code <= 0xdfff) start += 1;
  return text.slice(start);
}
