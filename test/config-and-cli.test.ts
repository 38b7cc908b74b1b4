import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
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

  test('unknown keys stop start-up with the key and its nearest valid name; free-key maps accept any name', () => {
    const cases: Array<[string, RegExp]> = [
      ['[server]\nprot = 9000\n', /^Unknown config key "server\.prot" in .*bad-key\.toml: did you mean "server\.port"\?$/],
      ['[servr]\nport = 9000\n', /"servr".*did you mean "server"/],
      ['[limits]\nrequests_per_minut = 5\n', /did you mean "limits\.requests_per_minute"/],
      ['[providers.mine]\ntype = "offline"\nmodle = "m"\n', /"providers\.mine\.modle".*did you mean "providers\.mine\.model"/],
      ['[[mcp.servers]]\nname = "x"\ncomand = "npx"\n', /"mcp\.servers\[0\]\.comand".*did you mean "mcp\.servers\[0\]\.command"/],
      ['[tools.shel]\nnetwork = true\n', /did you mean "tools\.shell"/],
      ['[log]\ncolour = "always"\n', /"log\.colour".*valid keys here: level, format/],
    ];
    for (const [toml, expected] of cases) {
      writeFileSync(join(dir, 'bad-key.toml'), toml);
      assert.throws(() => loadConfig({ cwd: dir, path: 'bad-key.toml', env: {} }), (error: Error) => {
        assert.match(error.message, expected);
        assert.ok(!error.message.includes('\n'), 'one line');
        return true;
      });
    }
    writeFileSync(join(dir, 'bad-key.toml'), '[server]\nprot = 1\nhots = "::1"\n');
    assert.throws(() => loadConfig({ cwd: dir, path: 'bad-key.toml', env: {} }), /"server\.prot" \(did you mean "server\.port"\?\); "server\.hots" \(did you mean "server\.host"\?\)/);

    // Provider, profile, tool-policy and MCP env names are the user's own.
    writeFileSync(
      join(dir, 'free-keys.toml'),
      [
        '[providers.my_local_llm]', 'type = "openai-compatible"', 'base_url = "http://127.0.0.1:11434/v1"', 'model = "llama3"',
        '[profiles.any_name]', 'max_iterations = 3',
        '[tools.policy]', '"mcp.github.*" = "deny"', 'prot = "ask"',
        '[[mcp.servers]]', 'name = "x"', 'command = "npx"', 'env = { WHATEVER_NAME = "1" }',
      ].join('\n'),
    );
    const { config } = loadConfig({ cwd: dir, path: 'free-keys.toml', env: {} });
    assert.equal(config.providers.my_local_llm?.model, 'llama3');
    assert.equal(config.tools.policy.prot, 'ask');
    assert.deepEqual(config.mcp.servers[0]?.env, { WHATEVER_NAME: '1' });
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

  test('start-up errors are one line with the fix and no stack trace (--verbose adds it)', async () => {
    const startupLines = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('tokendance:'));
    const hasStack = (stderr: string) => /^\s+at .+:\d+:\d+\)?$/m.test(stderr);

    const typo = join(environment.dir, 'typo.toml');
    writeFileSync(typo, '[server]\nprot = 9000\n');
    const badKey = await runCli(['--config', typo, 'serve'], { cwd: environment.dir });
    assert.equal(badKey.code, 1);
    assert.equal(startupLines(badKey.stderr).length, 1, badKey.stderr);
    assert.match(badKey.stderr, /Unknown config key "server\.prot" .*did you mean "server\.port"\?/);
    assert.ok(!hasStack(badKey.stderr));

    // Port in use: the fix is another port.
    const blocker = createServer();
    await new Promise<void>((resolvePromise) => blocker.listen(0, '127.0.0.1', resolvePromise));
    const port = (blocker.address() as { port: number }).port;
    try {
      const path = environment.writeConfig();
      const inUse = await runCli(['--config', path, 'serve', '--port', String(port)], { cwd: environment.dir });
      assert.equal(inUse.code, 1);
      const [line, ...others] = startupLines(inUse.stderr);
      assert.equal(others.length, 0, inUse.stderr);
      assert.match(line!, new RegExp(`127\\.0\\.0\\.1:${port} is already in use.*--port`));
      assert.ok(!hasStack(inUse.stderr), inUse.stderr);
      assert.ok(!inUse.stdout.includes('listening on'), 'it must not claim to listen');

      const verbose = await runCli(['--config', path, '--verbose', 'serve', '--port', String(port)], { cwd: environment.dir });
      assert.equal(verbose.code, 1);
      assert.match(verbose.stderr, /already in use/);
      assert.ok(hasStack(verbose.stderr), 'the stack trace with --verbose');
    } finally {
      blocker.close();
    }

    // A remote provider without its key names the provider and the variable to set.
    const path = environment.writeConfig(
      '[providers.remote]\ntype = "openai-compatible"\nbase_url = "https://llm.example.com/v1"\napi_key_env = "TD_TEST_MISSING_KEY"\nmodel = "m"\n',
    );
    const noKey = await runCli(['--config', path, 'serve'], { cwd: environment.dir });
    assert.equal(noKey.code, 1);
    assert.equal(startupLines(noKey.stderr).length, 1, noKey.stderr);
    assert.match(noKey.stderr, /providers\.remote.*TD_TEST_MISSING_KEY/);
    assert.ok(!hasStack(noKey.stderr), noKey.stderr);
  });

  test('user create validates like register; `user` alone prints its help and exits 0', async () => {
    const path = environment.writeConfig();
    for (const email of ['not-an-email', 'a@b', '<script>@example.com', `${'x'.repeat(250)}@example.com`, ' ']) {
      const result = await runCli(['--config', path, 'user', 'create', '--email', email, '--password', 'long enough password'], { cwd: environment.dir });
      assert.equal(result.code, 1, `${email} was accepted`);
      assert.match(result.stderr, /^tokendance: --email: /m);
    }
    const short = await runCli(['--config', path, 'user', 'create', '--email', 'short@example.com', '--password', 'short'], { cwd: environment.dir });
    assert.equal(short.code, 1);
    assert.match(short.stderr, /--password: .*8/);

    const help = await runCli(['user'], { cwd: environment.dir });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage: tokendance user/);
    assert.match(help.stdout, /create/);
    const unknown = await runCli(['user', 'delete'], { cwd: environment.dir });
    assert.equal(unknown.code, 1);
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
      const health = (await fetch(`${child.url}/api/health`).then((response) => response.json())) as { data: { database: { dialect: string } } };
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
