/** What the runtime reports for monitoring; the metrics adapter implements it. */
export interface RunObserver {
  runFinished(outcome: 'completed' | 'failed' | 'cancelled', durationMs: number, usage: { inputTokens: number; outputTokens: number }): void;
  toolFinished(tool: string, success: boolean, durationMs: number): void;
}
