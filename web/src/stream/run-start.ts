/**
 * The cursor just before the live run's first event, per session, in sessionStorage (one tab's
 * memory, kept across a reload). A reload loses what the page had rendered, so resuming at the
 * last cursor seen would leave the start of the answer missing; replaying the live run from its
 * first event rebuilds it whole, and the cursor rule (apply each id once) keeps it exact.
 */
interface RunStart {
  runId: string;
  after: number;
}

const key = (sessionId: string) => `tokendance.run-start.${sessionId}`;

export function rememberRunStart(sessionId: string, runId: string, after: number): void {
  try {
    sessionStorage.setItem(key(sessionId), JSON.stringify({ runId, after } satisfies RunStart));
  } catch {
    // Storage full or disabled: a reload then replays the session log from its start.
  }
}

/** The replay point of `runId`, if this tab saw it start. */
export function runStartOf(sessionId: string, runId: string): number | undefined {
  try {
    const stored = JSON.parse(sessionStorage.getItem(key(sessionId)) ?? 'null') as RunStart | null;
    return stored?.runId === runId ? stored.after : undefined;
  } catch {
    return undefined;
  }
}
