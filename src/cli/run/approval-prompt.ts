import { createInterface } from 'node:readline/promises';
import type { ApprovalRequest } from './run-driver.js';
import { type Paint, summarizeArgs, terminalSafe } from './terminal-text.js';

export interface ApprovalDecision {
  approved: boolean;
  feedback?: string;
}

/**
 * Asks the person at the terminal (stdin a TTY; the prompt goes to stderr): approve, or reject
 * with optional feedback for the model. Ctrl-C during the prompt calls `onInterrupt`.
 */
export async function askApproval(
  request: ApprovalRequest,
  io: { stdin: NodeJS.ReadableStream; stderr: NodeJS.WritableStream; paint: Paint; onInterrupt: () => void },
): Promise<ApprovalDecision> {
  const { paint } = io;
  const risk = request.risk_level ? ` (${terminalSafe(request.risk_level)} risk)` : '';
  io.stderr.write(`${paint.yellow('?')} ${paint.bold(`Approval needed: ${terminalSafe(request.tool)}${risk}`)}\n`);
  if (request.description) io.stderr.write(`  ${terminalSafe(request.description)}\n`);
  io.stderr.write(`  ${paint.dim(terminalSafe(summarizeArgs(request.args, 300)))}\n`);
  const prompt = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
  prompt.on('SIGINT', io.onInterrupt);
  // Input that ends (EOF) answers "no" rather than leaving the question open forever.
  const closed = new Promise<string>((resolve) => prompt.once('close', () => resolve('')));
  const ask = (question: string) => Promise.race([closed, prompt.question(question)]);
  try {
    const answer = (await ask('Approve? [y/N] ')).trim().toLowerCase();
    if (answer === 'y' || answer === 'yes') return { approved: true };
    const feedback = (await ask('Feedback for the model (optional, Enter to skip): ')).trim();
    return { approved: false, ...(feedback ? { feedback } : {}) };
  } finally {
    prompt.close();
  }
}
