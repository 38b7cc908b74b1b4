import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_PATH } from './cli.js';
import { createInterface } from 'node:readline';
import { loadConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { type Api, apiClient } from './http.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export interface TestServerOptions {
  /** Extra TOML appended to the generated config. */
  toml?: string;
  env?: Record<string, string>;
}

/**
 * A data directory plus database that outlives server restarts, so a test can stop a server and
 * start another on the same state.
 */
export class TestEnvironment {
  readonly dir: string;
  private database?: TestDatabase;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(): Promise<TestEnvironment> {
    const environment = new TestEnvironment(mkdtempSync(join(tmpdir(), 'tokendance-test-')));
    environment.database = await createTestDatabase(join(environment.dir, 'data'));
    return environment;
  }

  get databaseUrl(): string {
    return this.database!.url;
  }

  /** Writes tokendance.toml for this environment and returns its path. */
  writeConfig(extraToml = ''): string {
    const path = join(this.dir, 'tokendance.toml');
    writeFileSync(
      path,
      [
        '[server]',
        'host = "127.0.0.1"',
        'port = 0',
        'shutdown_grace_s = 2',
        '[database]',
        `url = "${this.databaseUrl}"`,
        '[data]',
        `dir = "${join(this.dir, 'data')}"`,
        '[log]',
        `level = "${process.env.TEST_LOG ?? 'silent'}"`,
        extraToml,
      ].join('\n'),
    );
    return path;
  }

  /** Starts the server in this process. */
  async start(options: TestServerOptions = {}): Promise<TestServer> {
    const path = this.writeConfig(options.toml);
    const { config } = loadConfig({ path, env: options.env ?? {} });
    const server = await startServer({ config, logger: process.env.TEST_LOG ? true : false, env: options.env ?? {} });
    return new TestServer(server.url, () => server.close(), server);
  }

  /** Starts `tokendance serve` as a child process (for restarts and kills). */
  async spawn(options: TestServerOptions = {}): Promise<TestServer> {
    const path = this.writeConfig(options.toml);
    const cli = CLI_PATH;
    const child = spawn(process.execPath, [cli, '--config', path, 'serve'], {
      cwd: this.dir,
      env: { PATH: process.env.PATH, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const url = await new Promise<string>((resolvePromise, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        const match = /listening on (\S+)/.exec(line);
        if (match) resolvePromise(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
    });
    return new TestServer(url, () => stopChild(child), undefined, child);
  }

  async destroy(): Promise<void> {
    await this.database?.drop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolvePromise) => child.once('exit', resolvePromise));
  child.kill('SIGTERM');
  await exited;
}

export class TestServer {
  readonly api: Api;

  constructor(
    readonly url: string,
    private readonly stopFn: () => Promise<void>,
    readonly inProcess?: RunningServer,
    readonly child?: ChildProcess,
  ) {
    this.api = apiClient(url);
  }

  stop(): Promise<void> {
    return this.stopFn();
  }

  /** SIGKILL: no graceful shutdown, as in a crash. */
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = new Promise((resolvePromise) => this.child!.once('exit', resolvePromise));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** A server on a fresh environment, for test files that need just one. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer & { environment: TestEnvironment; shutdown(): Promise<void> }> {
  const environment = await TestEnvironment.create();
  const server = await environment.start(options);
  return Object.assign(server, {
    environment,
    shutdown: async () => {
      await server.stop();
      await environment.destroy();
    },
  });
}

let userCounter = 0;

/** Registers a fresh user and returns its tokens and default workspace. */
export async function registerUser(api: Api, overrides: { email?: string; password?: string } = {}) {
  const email = overrides.email ?? `user${process.pid}-${Date.now()}-${++userCounter}@example.com`;
  const password = overrides.password ?? 'correct horse battery';
  const response = await api('POST', '/api/v1/auth/register', { body: { email, password } });
  if (response.status !== 201) throw new Error(`register failed: ${response.status} ${response.text}`);
  return {
    email,
    password,
    token: response.body.access_token as string,
    refreshToken: response.body.refresh_token as string,
    userId: response.body.user.id as string,
    workspaceId: response.body.default_workspace_id as string,
  };
}
