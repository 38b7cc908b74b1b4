import { z } from 'zod';
import type { CommandSandbox } from './sandbox/command-sandbox.js';
import { runProcessTree, type ProcessTreeOutcome } from './sandbox/process-tree.js';
import type { Tool } from './types.js';

export interface ShellToolOptions {
  sandbox: CommandSandbox;
  timeoutS: number;
  outputMaxChars: number;
}

/** Linux's limit for one argv string (MAX_ARG_STRLEN); longer commands could not be started. */
const COMMAND_MAX_CHARS = 100_000;

const shellSchema = z.object({
  command: z
    .string()
    .min(1)
    .max(COMMAND_MAX_CHARS)
    .refine((command) => !command.includes('\0'), 'must not contain NUL bytes')
    .describe('The command line, run by /bin/sh -c in the workspace directory.'),
});

export type ShellArgs = z.infer<typeof shellSchema>;

export function createShellTool(options: ShellToolOptions): Tool<ShellArgs> {
  const { sandbox } = options;
  return {
    name: 'shell',
    description: describeTool(options),
    inputSchema: shellSchema,
    defaultPolicy: 'ask',
    risk: () => 'high',
    describe: (args) => ({ operation: 'shell', description: `Run shell command: ${args.command}` }),
    execute: async (args, ctx) => {
      const outcome = await runProcessTree(sandbox.launch(ctx.workspaceDir, args.command), {
        timeoutMs: options.timeoutS * 1000,
        signal: ctx.signal,
        maxOutputChars: options.outputMaxChars,
      });
      return { success: outcome.exitCode === 0 && !outcome.timedOut && !outcome.aborted, output: render(outcome, options.timeoutS) };
    },
  };
}

function describeTool({ sandbox, timeoutS, outputMaxChars }: ShellToolOptions): string {
  return (
    `Run a command line with /bin/sh ${sandbox.confinement}. The environment is minimal (PATH, HOME, LANG). ` +
    `Stdin is empty; stdout and stderr are returned together with the exit code. ` +
    `Commands are killed, with every process they started, after ${timeoutS} s; output beyond ${outputMaxChars} characters is cut in the middle.`
  );
}

/** Status first: it must survive any later truncation of the result. */
function render(outcome: ProcessTreeOutcome, timeoutS: number): string {
  const status = outcome.timedOut
    ? `[timed out after ${timeoutS} s: the command and every process it started were killed]`
    : outcome.aborted
      ? '[cancelled: the command and every process it started were killed]'
      : outcome.exitSignal
        ? `[killed by signal ${outcome.exitSignal}]`
        : `[exit code ${outcome.exitCode}]`;
  // NUL cannot be stored in PostgreSQL text and means nothing to the model.
  const body = outcome.output.text === '' ? '(no output)' : outcome.output.text.replaceAll('\0', '\uFFFD');
  return `${status}\n${body}`;
}
