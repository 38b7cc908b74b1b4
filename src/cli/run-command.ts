import { type Command, Option } from 'commander';
import { loadConfig } from '../config/load.js';
import { ApiRun } from './run/api-run.js';
import { askApproval } from './run/approval-prompt.js';
import { CliError, EXIT } from './run/exit-codes.js';
import type { ApprovalRequest, RunDriver, RunEvent } from './run/run-driver.js';
import { JsonView, type RunView } from './run/run-view.js';
import { ServerClient } from './run/server-client.js';
import { ServiceRun } from './run/service-run.js';
import { colorsWanted, paintFor } from './run/terminal-text.js';
import { TerminalView } from './run/terminal-view.js';

export interface RunOptions {
  server?: string;
  token?: string;
  session?: string;
  approve?: 'all' | 'none';
  json?: boolean;
}

/** The model sees this as the user's feedback when `--approve none` rejects for them. */
const AUTO_REJECT_FEEDBACK = 'Rejected automatically: the user runs this task non-interactively (tokendance run --approve none).';
/** How long Ctrl-C waits for the server to confirm the stop before exiting anyway. */
const STOP_WAIT_MS = 5000;
const MAX_TASK_CHARS = 100_000;

/** `tokendance run "<task>"`: runs a task on a server and follows it in the terminal (§10). */
export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run a task on a TokenDance server and follow it: progress, tool calls, the answer, approvals')
    .argument('<task>', 'what the agent should do')
    .option('--server <url>', 'server URL (default: http://<server.host>:<server.port> from the config, HOST/PORT)')
    .option('--token <token>', 'access token (default: $TOKENDANCE_TOKEN); without one, a local-mode server is used through its Service API')
    .option('--session <id>', 'continue this session instead of creating one (needs a token)')
    .addOption(new Option('--approve <policy>', 'answer approvals without asking: all = approve, none = reject').choices(['all', 'none']))
    .option('--json', 'print the run as NDJSON: one {event, id, data} object per line')
    .addHelpText(
      'after',
      '\nApprovals are asked at the terminal; without one (and without --approve) the run waits for an answer\n' +
        'from elsewhere (web app, HITL API). Ctrl-C stops the run on the server.\n' +
        'Exit codes: 0 done, 1 the run failed or the server refused, 2 bad usage, 130 interrupted (Ctrl-C).',
    )
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EXIT.usage))
    .action(async (task: string, options: RunOptions) => {
      const code = await runTask(task, options, program.opts().config as string | undefined);
      // Exit once what was written has been flushed, whatever sockets the HTTP client keeps open.
      process.stdout.write('', () => process.exit(code));
    });
}

async function runTask(task: string, options: RunOptions, configPath: string | undefined): Promise<number> {
  const json = Boolean(options.json);
  const view: RunView = json
    ? new JsonView(process)
    : new TerminalView({ stdout: process.stdout, stderr: process.stderr, colors: colorsWanted(process.stderr, process.env) });
  let driver: RunDriver | undefined;
  let interrupted: Promise<number> | undefined;
  /** Ctrl-C (a signal, or the key while a prompt has the terminal): stop the run on the server, then exit 130. */
  const interrupt = () => {
    // A second Ctrl-C does not wait for the server.
    if (interrupted) process.exit(EXIT.interrupted);
    view.pause();
    view.notice('stopping the run…');
    interrupted = Promise.race([driver?.stop().catch((error: unknown) => view.failure(`could not stop the run: ${(error as Error).message}`)), sleep(STOP_WAIT_MS)]).then(
      () => EXIT.interrupted,
    );
    void interrupted.then((code) => process.stdout.write('', () => process.exit(code)));
  };
  process.on('SIGINT', interrupt);

  try {
    const settings = resolveSettings(task, options, configPath);
    driver = settings.token ? new ApiRun(new ServerClient(settings.server, settings.token), { sessionId: options.session }) : new ServiceRun(new ServerClient(settings.server));
    const started = await driver.start(task);
    if (interrupted) return await interrupted;
    view.started(started);
    for await (const event of driver.events()) {
      if (interrupted) return await interrupted;
      view.event(event);
      if (event.event === 'done') return EXIT.done;
      if (event.event === 'error') return EXIT.failed;
      if (event.event === 'confirm_required') await decide(event, driver, view, options, interrupt);
    }
    throw new CliError('the stream ended before the run finished');
  } catch (error) {
    if (interrupted) return await interrupted;
    if (!(error instanceof CliError)) throw error;
    view.pause();
    view.failure(error.message);
    return error.exitCode;
  } finally {
    view.pause();
    driver?.close();
  }
}

/** Answers an approval as `--approve` says, at the terminal, or leaves it to another client. */
async function decide(event: RunEvent, driver: RunDriver, view: RunView, options: RunOptions, onInterrupt: () => void): Promise<void> {
  const request = event.data as ApprovalRequest;
  let decision: { approved: boolean; feedback?: string };
  if (options.approve) {
    decision = options.approve === 'all' ? { approved: true } : { approved: false, feedback: AUTO_REJECT_FEEDBACK };
    view.notice(`${decision.approved ? 'approving' : 'rejecting'} ${request.tool} (--approve ${options.approve})`);
  } else if (process.stdin.isTTY) {
    view.pause();
    decision = await askApproval(request, { stdin: process.stdin, stderr: process.stderr, paint: paintFor(colorsWanted(process.stderr, process.env)), onInterrupt });
  } else {
    view.notice(
      `waiting for approval of ${request.tool} (request ${request.action_id}): answer it in the web app or with ` +
        `POST /api/v1/hitl/${request.action_id}/confirm, or run again with --approve all|none`,
    );
    return;
  }
  try {
    await driver.answer(request.action_id, decision.approved, decision.feedback);
  } catch (error) {
    // Answered elsewhere or expired meanwhile: the stream says what happened next.
    if (!(error instanceof CliError)) throw error;
    view.notice(error.message);
  }
}

function resolveSettings(task: string, options: RunOptions, configPath: string | undefined): { server: string; token?: string } {
  if (task.trim() === '') throw new CliError('the task is empty', EXIT.usage);
  if (task.length > MAX_TASK_CHARS) throw new CliError(`the task is longer than ${MAX_TASK_CHARS} characters`, EXIT.usage);
  const token = options.token ?? (process.env.TOKENDANCE_TOKEN || undefined);
  if (options.session !== undefined && !token) {
    throw new CliError('--session needs a token (--token or TOKENDANCE_TOKEN): without one, tasks run on the Service API session', EXIT.usage);
  }
  return { server: options.server !== undefined ? serverUrl(options.server) : defaultServerUrl(configPath), token };
}

function serverUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`--server must be a URL such as http://127.0.0.1:8000, got "${value}"`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--server must be an http(s) URL, got "${value}"`, EXIT.usage);
  return url.href.replace(/\/+$/, '');
}

/** Where `tokendance serve` would listen with the same config and environment. */
function defaultServerUrl(configPath: string | undefined): string {
  let host: string;
  let port: number;
  try {
    ({ host, port } = loadConfig({ path: configPath }).config.server);
  } catch (error) {
    throw new CliError(`${(error as Error).message} (or pass --server URL)`, EXIT.usage);
  }
  // A wildcard bind is reached on loopback.
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
