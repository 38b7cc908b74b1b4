/** Caps a tool result so one call cannot flood the model's context; the note tells the model it happened. */
export function truncateOutput(output: string, maxChars: number): string {
  if (output.length <= maxChars) return output;
  let shown = Math.max(0, maxChars);
  // Never end on the first half of a surrogate pair: that would be invalid UTF-16 on the wire.
  const last = output.charCodeAt(shown - 1);
  if (shown > 0 && last >= 0xd800 && last <= 0xdbff) shown -= 1;
  return `${output.slice(0, shown)}\n[output truncated: ${shown} of ${output.length} characters shown]`;
}
