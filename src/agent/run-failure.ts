/** Why a run ended without an answer; `code` is what the `error` event and the task carry. */
export type RunFailureCode = 'CANCELLED' | 'TIMEOUT' | 'MAX_ITERATIONS' | 'MODEL_ERROR' | 'INTERRUPTED' | 'INTERNAL_ERROR';

export class RunFailure extends Error {
  constructor(
    readonly code: RunFailureCode,
    message: string,
  ) {
    super(message);
    this.name = 'RunFailure';
  }
}
