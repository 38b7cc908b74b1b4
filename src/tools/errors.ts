/**
 * A problem with what the model asked for (bad path, missing file, binary file...). The registry
 * shows its message to the model verbatim, so it must be self-explanatory and free of host paths.
 */
export class ToolInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolInputError';
  }
}
