/** ANSI styles for the terminal; plain text when colour is off (NO_COLOR, or not a terminal). */
export type Paint = Record<'dim' | 'bold' | 'red' | 'green' | 'yellow' | 'cyan', (text: string) => string>;

const CODES = { dim: 2, bold: 1, red: 31, green: 32, yellow: 33, cyan: 36 } as const;

export function paintFor(colors: boolean): Paint {
  const style = (code: number) => (colors ? (text: string) => `\x1b[${code}m${text}\x1b[0m` : (text: string) => text);
  return Object.fromEntries(Object.entries(CODES).map(([name, code]) => [name, style(code)])) as Paint;
}

/** no-color.org: any non-empty NO_COLOR turns colour off. */
export const colorsWanted = (stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean => Boolean(stream.isTTY) && !env.NO_COLOR;

/**
 * Model and tool output may contain terminal control sequences (to move the cursor, retitle
 * the window, hide text): on a terminal every control character but newline and tab is dropped.
 */
export function terminalSafe(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

/** `path="notes.txt" content="hi"`, on one line, cut at `max` characters. */
export function summarizeArgs(args: unknown, max = 100): string {
  const text =
    args !== null && typeof args === 'object' && !Array.isArray(args)
      ? Object.entries(args as Record<string, unknown>)
          .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
          .join(' ')
      : JSON.stringify(args) ?? '';
  return oneLine(text, max);
}

export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
