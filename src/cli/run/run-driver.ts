/** One event of the run, in the session stream's vocabulary (§5.1): `{event, id, data}`. */
export interface RunEvent {
  event: string;
  id: number | string | null;
  data: Record<string, any>;
}

/** What the command shows once the run has started. */
export interface StartedRun {
  sessionId?: string;
  taskId?: string;
  /** A Service API task waiting behind another one. */
  queued?: boolean;
}

/** A pending approval, as the prompt shows it. */
export interface ApprovalRequest {
  action_id: string;
  tool: string;
  args: unknown;
  operation?: string;
  description?: string;
  risk_level?: string;
}

/**
 * Runs one task on a server and follows it: the TokenDance API with a token (ApiRun), or the
 * Service API of a local-mode server (ServiceRun). Either way the command sees the same events.
 */
export interface RunDriver {
  start(task: string): Promise<StartedRun>;
  /** The run's events until the consumer stops iterating (after `done` or `error`). */
  events(): AsyncGenerator<RunEvent>;
  answer(actionId: string, approved: boolean, feedback?: string): Promise<void>;
  /** Asks the server to stop the run (no-op when nothing was started). */
  stop(): Promise<void>;
  /** Stops following (closes connections); the run itself is not affected. */
  close(): void;
}

/** A cursor as the JSON output shows it: a number when it is one. */
export function cursorOf(id: string | undefined): number | string | null {
  if (id === undefined || id === '') return null;
  const number = Number(id);
  return Number.isSafeInteger(number) ? number : id;
}
