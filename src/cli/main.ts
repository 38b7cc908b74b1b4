#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { AuthService } from '../auth/service.js';
import { resolveJwtSecret } from '../auth/secret.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { AppError } from '../core/errors.js';
import { openDatabase } from '../store/database.js';
import { migrateToLatest } from '../store/migrations.js';
import { Store } from '../store/store.js';
import { StartupError, startServer } from '../server.js';
import { VERSION } from '../version.js';

const parsePort = (value: string): number => {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be an integer 0-65535');
  return port;
};

const program = new Command()
  .name('tokendance')
  .description('TokenDance: a self-hosted agent server')
  .version(VERSION)
  .option('-c, --config <path>', 'config file (default: ./tokendance.toml, else ./ineffable.toml)');

program
  .command('serve')
  .description('start the HTTP server (TokenDance API, Service API, web UI)')
  .option('--host <host>', 'address to bind (default 127.0.0.1)')
  .option('--port <port>', 'port to bind (default 8000; 0 = any free port)', parsePort)
  .option('--insecure', 'allow local mode (token-less /api/*) on a non-loopback address')
  .action(async (options: { host?: string; port?: number; insecure?: boolean }) => {
    const { config } = loadConfig({ path: program.opts().config, overrides: options });
    const server = await startServer({ config });
    // Machine-readable line first: tests and scripts read the bound port from it.
    process.stdout.write(`tokendance listening on ${server.url}\n`);
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
    const handle = openDatabase(config.database.url);
    try {
      const applied = await migrateToLatest(handle.db as never, handle.dialect);
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
    } finally {
      await handle.close();
    }
  });

program
  .command('user')
  .description('manage users')
  .command('create')
  .description('create a user (and their default workspace)')
  .requiredOption('--email <email>', 'email address')
  .requiredOption('--password <password>', 'password (at least 8 characters)')
  .option('--username <name>', 'display name')
  .action(async (options: { email: string; password: string; username?: string }) => {
    const { config } = loadConfig({ path: program.opts().config });
    if (options.password.length < 8) throw new InvalidArgumentError('--password must be at least 8 characters');
    const store = await Store.open(config.database.url);
    try {
      const auth = new AuthService(store, config.auth, resolveJwtSecret(config.auth.jwt_secret, config.data.dir));
      const result = await auth.register(options);
      process.stdout.write(`${JSON.stringify({ user: result.user, default_workspace_id: result.default_workspace_id })}\n`);
    } finally {
      await store.close();
    }
  });

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof StartupError || error instanceof AppError || error instanceof InvalidArgumentError) {
    process.stderr.write(`tokendance: ${error.message}\n`);
  } else {
    process.stderr.write(`tokendance: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exit(1);
});
