/** How `tokendance run` exits, so scripts can tell a failed task from a mistyped command. */
export const EXIT = {
  /** The run ended with `done`. */
  done: 0,
  /** The run ended with `error`, or the server refused or could not be reached. */
  failed: 1,
  /** Bad arguments or options. */
  usage: 2,
  /** Ctrl-C: the run was asked to stop (128 + SIGINT). */
  interrupted: 130,
} as const;

/** A failure with the message to print (without a stack trace) and the exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
    /** A network failure or a server error: worth another try (e.g. the server is restarting). */
    readonly retryable = false,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
