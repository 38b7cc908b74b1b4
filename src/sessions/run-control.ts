/**
 * What session management needs from the agent runtime: stop the session's run (if any) before
 * deleting or completing it. The runtime implements this; session code never imports it.
 */
export interface RunControl {
  /** Cancels the live run and any queued runs of a session; true when something was stopped. */
  stopSession(sessionId: string, reason: string): Promise<boolean>;
}
