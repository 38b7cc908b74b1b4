import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config/load.js';
import { runCli } from './support/cli.js';
import { TestEnvironment } from './support/server.js';

describe('configuration', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tokendance-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('defaults: loopback:8000, SQLite under ./data, local mode on', () => {
    const { config, source } = loadConfig({ cwd: dir, env: {} });
    assert.equal(source, null);
    assert.equal(config.server.host, '127.0.0.1');
    assert.equal(config.server.port, 8000);
    assert.equal(config.database.url, 'sqlite://./data/tokendance.db');
    assert.equal(config.auth.local_mode, true);
    assert.equal(config.limits.requests_per_minute, 100);
    assert.equal(config.limits.sse_concurrent, 10);
  });

  test('tokendance.toml wins over ineffable.toml; ineffable.toml is read when it is alone', () => {
    writeFileSync(join(dir, 'ineffable.toml'), '[server]\nport = 5173\n');
    assert.equal(loadConfig({ cwd: dir, env: {} }).config.server.port, 5173);
    writeFileSync(join(dir, 'tokendance.toml'), '[server]\nport = 9001\n');
    const loaded = loadConfig({ cwd: dir, env: {} });
    assert.equal(loaded.config.server.port, 9001);
    assert.equal(loaded.source, join(dir, 'tokendance.toml'));
    rmSync(join(dir, 'tokendance.toml'));
    rmSync(join(dir, 'ineffable.toml'));
  });

  test('env overrides are typed by the schema; flags override both', () => {
    const env = {
      TOKENDANCE_AUTH_JWT_SECRET: '0123456789abcdef0123456789abcdef-secret',
      TOKENDANCE_LIMITS_REQUESTS_PER_MINUTE: '7',
      TOKENDANCE_AUTH_LOCAL_MODE: 'false',
      TOKENDANCE_SERVER_PORT: '1234',
      TOKENDANCE_MODEL_FALLBACK: 'a, b',
    };
    const { config } = loadConfig({ cwd: dir, env });
    assert.equal(config.auth.jwt_secret, env.TOKENDANCE_AUTH_JWT_SECRET);
    assert.equal(config.limits.requests_per_minute, 7);
    assert.equal(config.auth.local_mode, false);
    assert.equal(config.server.port, 1234);
    assert.deepEqual(config.model.fallback, ['a', 'b']);
    assert.equal(loadConfig({ cwd: dir, env, overrides: { port: 4321, host: '::1' } }).config.server.port, 4321);
  });

  test('invalid config names the key and the expected type', () => {
    writeFileSync(join(dir, 'bad.toml'), '[server]\nport = "eighty"\n[limits]\nsse_concurrent = -1\n');
    assert.throws(() => loadConfig({ cwd: dir, path: 'bad.toml', env: {} }), (error: Error) => {
      assert.match(error.message, /server\.port: .*expected number/);
      assert.match(error.message, /limits\.sse_concurrent/);
      return true;
    });
    assert.throws(() => loadConfig({ cwd: dir, env: { TOKENDANCE_AGENT_MAX_ITERATIONS: 'many' } }), /agent\.max_iterations .*must be a number/);
    assert.throws(() => loadConfig({ cwd: dir, env: { TOKENDANCE_AUTH_LOCAL_MODE: 'perhaps' } }), /auth\.local_mode .*boolean/);
    assert.throws(() => loadConfig({ cwd: dir, env: { TOKENDANCE_SERVER_COLOUR: 'red' } }), /Unknown config key .*server\.colour/);
    assert.throws(() => loadConfig({ cwd: dir, path: 'missing.toml', env: {} }), /not found/);
    writeFileSync(join(dir, 'broken.toml'), '[server\nport = 1');
    assert.throws(() => loadConfig({ cwd: dir, path: 'broken.toml', env: {} }), /Cannot parse/);
  });
});

describe('CLI', () => {
  let environment: TestEnvironment;
  before(async () => {
    environment = await TestEnvironment.create();
  });
  after(() => environment.destroy());

  test('--help lists the commands', async () => {
    const result = await runCli(['--help'], { cwd: environment.dir });
    assert.equal(result.code, 0);
    for (const command of ['serve', 'migrate', 'user']) assert.match(result.stdout, new RegExp(`\\b${command}\\b`));
  });

  test('serve with an invalid config exits 1 naming the key', async () => {
    const path = join(environment.dir, 'invalid.toml');
    writeFileSync(path, '[limits]\nrequests_per_minute = "lots"\n');
    const result = await runCli(['--config', path, 'serve'], { cwd: environment.dir });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /limits\.requests_per_minute: .*expected number/);
  });

  test('serve refuses local mode on a non-loopback address unless --insecure', async () => {
    const path = environment.writeConfig();
    const result = await runCli(['--config', path, 'serve', '--host', '0.0.0.0'], { cwd: environment.dir });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /local_mode/);
  });

  test('migrate applies migrations, then reports up to date; user create makes a user who can log in', async () => {
    const path = environment.writeConfig();
    const first = await runCli(['--config', path, 'migrate'], { cwd: environment.dir });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /applied: 0001_initial|up to date/);
    const second = await runCli(['--config', path, 'migrate'], { cwd: environment.dir });
    assert.equal(second.stdout.trim(), 'database is up to date');

    const created = await runCli(['--config', path, 'user', 'create', '--email', 'cli@example.com', '--password', 'cli password'], { cwd: environment.dir });
    assert.equal(created.code, 0, created.stderr);
    const output = JSON.parse(created.stdout);
    assert.equal(output.user.email, 'cli@example.com');
    const duplicate = await runCli(['--config', path, 'user', 'create', '--email', 'cli@example.com', '--password', 'cli password'], { cwd: environment.dir });
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.stderr, /already registered/);

    const server = await environment.spawn();
    try {
      const login = await server.api('POST', '/api/v1/auth/login', { body: { email: 'cli@example.com', password: 'cli password' } });
      assert.equal(login.status, 200);
      assert.equal(login.body.default_workspace_id, output.default_workspace_id);
    } finally {
      await server.stop();
    }
  });

  test('with no configuration at all, serve uses ./data with SQLite and the env overrides', async () => {
    const bare = mkdtempSync(join(tmpdir(), 'tokendance-bare-'));
    try {
      const child = await new TestEnvironmentLessServer(bare).start();
      const health = await fetch(`${child.url}/api/health`).then((response) => response.json());
      assert.equal(health.data.database.dialect, 'sqlite');
      assert.ok(existsSync(join(bare, 'data', 'tokendance.db')));
      assert.ok(existsSync(join(bare, 'data', 'jwt_secret')));
      await child.stop();
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});

/** `tokendance serve` in an empty directory, configured only by env (port 0 so tests never clash). */
class TestEnvironmentLessServer {
  constructor(private readonly cwd: string) {}
  async start() {
    const { spawn } = await import('node:child_process');
    const { CLI_PATH } = await import('./support/cli.js');
    const child = spawn(process.execPath, [CLI_PATH, 'serve'], {
      cwd: this.cwd,
      env: { PATH: process.env.PATH, TOKENDANCE_SERVER_PORT: '0', TOKENDANCE_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const url = await new Promise<string>((resolvePromise, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        const match = /listening on (\S+)/.exec(chunk.toString());
        if (match) resolvePromise(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    return {
      url,
      stop: () =>
        new Promise<void>((resolvePromise) => {
          child.once('exit', () => resolvePromise());
          child.kill('SIGTERM');
        }),
    };
  }
}
