import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../src/version.js';
import { CLI_PATH } from './support/cli.js';
import { TestEnvironment } from './support/server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECRET_TICKET = 'SECRET-TICKET-4711';
const SECRET_TOKEN = 'SECRET-TOKEN-0815';

/** A child whose stdout is collected; `waitFor` resolves on the first match in everything printed so far. */
function watch(child: ChildProcess) {
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
    for (const waiter of waiters) waiter();
  });
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolvePromise) => child.once('exit', (code) => resolvePromise(code)));
  return {
    output: () => stdout,
    exited,
    waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
      return new Promise((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${stdout}\n${stderr}`)), timeoutMs);
        const check = () => {
          const match = pattern.exec(stdout.replace(/\r/g, ''));
          if (!match) return;
          clearTimeout(timer);
          resolvePromise(match);
        };
        waiters.push(check);
        void exited.then(() => setTimeout(() => reject(new Error(`exited before ${pattern}:\n${stdout}\n${stderr}`)), 50));
        check();
      });
    },
  };
}

/** Requests whose credentials must never reach a log line. */
async function requestsWithSecrets(url: string): Promise<void> {
  await fetch(`${url}/api/v1/sessions/00000000-0000-4000-8000-000000000000/stream?ticket=${SECRET_TICKET}`).then((response) => response.text());
  await fetch(`${url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${SECRET_TOKEN}` } }).then((response) => response.text());
  await fetch(`${url}/api/health`).then((response) => response.text());
}

const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');

describe('start-up output and logs', () => {
  let environment: TestEnvironment;
  let configPath: string;
  before(async () => {
    environment = await TestEnvironment.create();
    configPath = environment.writeConfig();
  });
  after(() => environment.destroy());

  const serve = (env: Record<string, string>) =>
    spawn(process.execPath, [CLI_PATH, '--config', configPath, 'serve'], {
      cwd: environment.dir,
      env: { PATH: process.env.PATH, TOKENDANCE_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  test('not a terminal: the listening line, then JSON log lines with one "listening" entry and no credentials', async () => {
    const child = serve({});
    const output = watch(child);
    const [, url] = await output.waitFor(/^tokendance listening on (\S+)$/m);
    await requestsWithSecrets(url!);
    await output.waitFor(/("msg":"request completed"[\s\S]*){3}/);
    child.kill('SIGTERM');
    assert.equal(await output.exited, 0);

    const lines = output.output().split('\n').filter(Boolean);
    assert.equal(lines.filter((line) => line.startsWith('tokendance listening on ')).length, 1);
    const entries = lines.filter((line) => !line.startsWith('tokendance listening on ')).map((line) => JSON.parse(line) as Record<string, unknown>);
    const listening = entries.filter((entry) => String(entry.msg).toLowerCase().includes('listening'));
    assert.equal(listening.length, 1, `one listening entry, got ${JSON.stringify(listening)}`);
    assert.equal(listening[0]!.url, url);
    assert.equal(listening[0]!.version, VERSION);
    assert.ok(entries.some((entry) => entry.msg === 'request completed'));
    assert.ok(!output.output().includes(SECRET_TICKET) && !output.output().includes(SECRET_TOKEN), 'a credential reached the log');
    assert.match(output.output(), /ticket=\[redacted\]/);
  });

  test('log.format = "pretty": readable lines (time, level, message), credentials still redacted', async () => {
    const child = serve({ TOKENDANCE_LOG_FORMAT: 'pretty' });
    const output = watch(child);
    const [, url] = await output.waitFor(/^tokendance listening on (\S+)$/m);
    await requestsWithSecrets(url!);
    await output.waitFor(/GET \/api\/health 200 [\d.]+ms request completed/);
    child.kill('SIGTERM');
    assert.equal(await output.exited, 0);

    const text = output.output();
    assert.ok(!text.includes('{"level"'), 'no JSON lines');
    assert.match(text, /^\d\d:\d\d:\d\d INFO {2}listening url=http/m);
    assert.match(text, /^\d\d:\d\d:\d\d INFO {2}GET \/api\/v1\/sessions\/[\w-]+\/stream\?ticket=\[redacted\] 401/m);
    assert.ok(!text.includes(SECRET_TICKET) && !text.includes(SECRET_TOKEN), 'a credential reached the log');
    assert.ok(!/\x1b\[/.test(text), 'no colours when stdout is not a terminal');
  });

  test('on a terminal: the listening line, a short summary and pretty logs', { skip: !existsSync('/usr/bin/script') && 'util-linux script is not installed' }, async () => {
    // `script` gives the server a pseudo-terminal, as when a person runs it.
    const command = ['exec', process.execPath, CLI_PATH, '--config', configPath, 'serve'].map((part) => `'${part}'`).join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: environment.dir,
      env: { PATH: process.env.PATH, TOKENDANCE_LOG_LEVEL: 'info', TERM: 'xterm' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const output = watch(child);
    try {
      await output.waitFor(/Model/);
      const text = stripAnsi(output.output());
      const url = /^tokendance listening on (\S+)$/m.exec(text)?.[1];
      assert.ok(url, text);
      const summary = text.slice(text.indexOf('tokendance listening on'));
      assert.match(summary, new RegExp(`TokenDance ${VERSION.replaceAll('.', '\\.')} is running`));
      assert.match(summary, new RegExp(`App +${url}/\\n`));
      assert.match(summary, new RegExp(`API docs +${url}/docs\\n`));
      assert.match(summary, new RegExp(`Config +${configPath}\\n`));
      assert.match(summary, /Database +(SQLite \/\S+|PostgreSQL postgres:\/\/[^@\s]+)\n/);
      assert.match(summary, /Model +offline demo model .*SPARK_API_KEY/);
      assert.ok(!text.includes('{"level"'), 'pretty logs on a terminal');
      assert.match(text, /^\d\d:\d\d:\d\d WARN {2}NO MODEL PROVIDER CONFIGURED/m);
      assert.ok(!/listening/i.test(text.replace(/^tokendance listening on .*$/m, '')), '"listening" is said once');
      assert.match(output.output(), /\x1b\[/, 'colours on a terminal');
    } finally {
      child.kill('SIGTERM');
      await output.exited;
    }
  });
});

describe('npm start', () => {
  test('SIGTERM to the npm process stops the server too (no orphan)', async () => {
    const environment = await TestEnvironment.create();
    try {
      const path = environment.writeConfig();
      // --ignore-scripts skips prestart (the build check; the suite has just built) but still runs start.
      const npm = spawn('npm', ['start', '--ignore-scripts', '--', '--config', path], {
        cwd: ROOT,
        env: { ...process.env, TOKENDANCE_LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output = watch(npm);
      const [, url] = await output.waitFor(/^tokendance listening on (\S+)$/m);
      assert.equal((await fetch(`${url}/api/health`)).status, 200);
      npm.kill('SIGTERM');
      assert.equal(await output.exited, 0, 'the server shut down gracefully and npm passed on its exit code');
      await assert.rejects(fetch(`${url}/api/health`), 'the server still answers after npm was stopped');
    } finally {
      await environment.destroy();
    }
  });

  test('prestart compiles only when a source is newer than the last successful build', () => {
    const project = mkdtempSync(join(tmpdir(), 'tokendance-prestart-'));
    try {
      // A miniature project with the real script and a `tsc` that only records its arguments (and fails on request).
      for (const dir of ['scripts', 'src/sub', 'dist/cli', 'node_modules/typescript/bin']) mkdirSync(join(project, dir), { recursive: true });
      copyFileSync(join(ROOT, 'scripts', 'build-if-stale.mjs'), join(project, 'scripts', 'build-if-stale.mjs'));
      const calls = join(project, 'tsc-calls');
      writeFileSync(
        join(project, 'node_modules/typescript/bin/tsc'),
        `require('fs').appendFileSync(${JSON.stringify(calls)}, process.argv.slice(2).join(' ') + '\\n'); process.exit(process.env.TSC_FAILS ? 2 : 0);`,
      );
      for (const file of ['src/a.ts', 'src/sub/b.ts', 'tsconfig.json', 'dist/cli/main.js']) writeFileSync(join(project, file), '');
      const script = join(project, 'scripts', 'build-if-stale.mjs');
      const run = (...args: string[]) => {
        const result = spawnSync(process.execPath, [script, ...args], { env: { PATH: process.env.PATH } });
        assert.equal(result.status, 0, String(result.stderr));
      };
      const builds = () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').length : 0);
      const at = (seconds: number) => new Date(Date.now() - 3_600_000 + seconds * 1000);
      const touch = (file: string, seconds: number) => utimesSync(join(project, file), at(seconds), at(seconds));
      const markBuilt = (seconds: number) => {
        run('--begin');
        touch('dist/.build-started', seconds);
        run('--done');
      };
      for (const file of ['src/a.ts', 'src/sub/b.ts', 'src/sub', 'src', 'tsconfig.json']) touch(file, 0);

      run();
      assert.equal(builds(), 1, 'never built: build');
      assert.equal(readFileSync(calls, 'utf8'), '-p tsconfig.json\n');

      markBuilt(10);
      run();
      assert.equal(builds(), 1, 'current: no build');

      touch('src/sub/b.ts', 20);
      run();
      assert.equal(builds(), 2, 'a source changed after the build started: build');

      markBuilt(30);
      run();
      assert.equal(builds(), 2);
      touch('tsconfig.json', 40);
      const failed = spawnSync(process.execPath, [script], { env: { PATH: process.env.PATH, TSC_FAILS: '1' } });
      assert.equal(failed.status, 2, 'a failed build fails npm start');
      assert.equal(builds(), 3, 'tsconfig.json changed: build');
      run();
      assert.equal(builds(), 4, 'after a failed build the next start compiles again');
      run();
      assert.equal(builds(), 4, 'that build succeeded: current');

      rmSync(join(project, 'src', 'sub', 'b.ts'));
      run();
      assert.equal(builds(), 5, 'a source was deleted: build');
      run();
      assert.equal(builds(), 5);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
