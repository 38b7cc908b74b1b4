#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config/load.js';
import { registerBody } from '../schemas/user.js';
import { VERSION } from '../version.js';
import { registerRunCommand } from './run-command.js';
import { describeStartupError, type StartupTarget } from './startup-errors.js';
import { startupSummary } from './startup-summary.js';

const parsePort = (value: string): number => {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be an integer 0-65535');
  return port;
};

const program = new Command()
  .name('tokendance')
  .description('TokenDance: a self-hosted agent server')
  .version(VERSION)
  .option('-c, --config <path>', 'config file (default: ./tokendance.toml, else ./ineffable.toml)')
  .option('--verbose', 'print the stack trace of unexpected errors');

/**
 * A streaming server promotes every event that waits for its batch (≤ 250 ms) to the old
 * generation, and V8's default growing factor (up to 4× the live heap) lets that garbage reach
 * ~300 MB of RSS over a 35 MB live heap before a full collection. 1.25× keeps the peak under
 * 200 MB at 100 streams for no measurable CPU (bench/RESULTS.md, "Fourth round"). The factor is
 * read at every collection, so setting it once the process runs takes effect; a value given
 * on node's command line or in NODE_OPTIONS wins.
 */
function keepOldGenerationSmall(): void {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => /heap[-_]growing[-_]percent/.test(arg));
  if (!given) setFlagsFromString('--heap-growing-percent=25');
}

/** What start-up was attempting, so a failure can name the port or database it could not get. */
const startupTarget: StartupTarget = {};

program
  .command('serve')
  .description('start the HTTP server (TokenDance API, Service API, web UI)')
  .option('--host <host>', 'address to bind (default 127.0.0.1)')
  .option('--port <port>', 'port to bind (default 8000; 0 = any free port)', parsePort)
  .option('--insecure', 'allow local mode (token-less /api/*) on a non-loopback address')
  .action(async (options: { host?: string; port?: number; insecure?: boolean }) => {
    const { config, source } = loadConfig({ path: program.opts().config, overrides: options });
    keepOldGenerationSmall();
    Object.assign(startupTarget, { host: config.server.host, port: config.server.port, databaseUrl: config.database.url });
    // The server (and its database drivers) load only for the commands that need them: `run` starts fast.
    const { startServer } = await import('../server.js');
    const server = await startServer({ config });
    // Machine-readable line first: tests and scripts read the bound port from it.
    process.stdout.write(`tokendance listening on ${server.url}\n`);
    if (process.stdout.isTTY) {
      process.stdout.write(startupSummary({ server, version: VERSION, configSource: source, colors: !process.env.NO_COLOR }));
    } else {
      server.app.log.info(
        { url: server.url, version: VERSION, config: source, database: server.context.store.handle.location, model: server.models.offline ? 'offline' : server.models.defaultName },
        'listening',
      );
    }
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      server.app.log.info({ signal }, 'shutting down');
      server.close().then(
        () => process.exit(0),
        (error) => {
          server.app.log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });

program
  .command('migrate')
  .description('apply database migrations and exit')
  .action(async () => {
    const { config } = loadConfig({ path: program.opts().config });
    const [{ openDatabase }, { migrateToLatest }] = await Promise.all([import('../store/database.js'), import('../store/migrations.js')]);
    const handle = openDatabase(config.database.url);
    try {
      const applied = await migrateToLatest(handle.db as never, handle.dialect);
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
    } finally {
      await handle.close();
    }
  });

const userCommand = program
  .command('user')
  .description('manage users')
  .action(() => userCommand.help());

userCommand
  .command('create')
  .description('create a user (and their default workspace)')
  .requiredOption('--email <email>', 'email address')
  .requiredOption('--password <password>', 'password (at least 8 characters)')
  .option('--username <name>', 'display name')
  .action(async (options: { email: string; password: string; username?: string }) => {
    // The same rules as POST /api/v1/auth/register.
    const checked = registerBody.safeParse(options);
    if (!checked.success) {
      throw new InvalidArgumentError(checked.error.issues.map((issue) => `--${issue.path.join('.')}: ${issue.message}`).join('; '));
    }
    const { config } = loadConfig({ path: program.opts().config });
    const [{ Store }, { AuthService }, { resolveJwtSecret }] = await Promise.all([
      import('../store/store.js'),
      import('../auth/service.js'),
      import('../auth/secret.js'),
    ]);
    const store = await Store.open(config.database.url);
    try {
      const auth = new AuthService(store, config.auth, resolveJwtSecret(config.auth.jwt_secret, config.data.dir));
      const result = await auth.register(checked.data);
      process.stdout.write(`${JSON.stringify({ user: result.user, default_workspace_id: result.default_workspace_id })}\n`);
    } finally {
      await store.close();
    }
  });

registerRunCommand(program);

program.parseAsync().catch((error: unknown) => {
  const verbose = Boolean(program.opts().verbose) || process.argv.includes('--verbose');
  const { message, expected } = describeStartupError(error, startupTarget);
  process.stderr.write(`tokendance: ${message}${expected || verbose ? '' : ' (--verbose shows the stack trace)'}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
