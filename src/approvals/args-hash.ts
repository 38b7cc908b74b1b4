import { createHash } from 'node:crypto';

/** An approval is bound to the exact argument text the model produced, not to a re-serialisation of it. */
export const argsHash = (rawArguments: string): string => createHash('sha256').update(rawArguments).digest('hex');
