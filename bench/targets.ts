/**
 * The two kinds of process measured: the floor (bench/bare-relay.ts, the least a relay can do)
 * and a tokendance server on a fresh database of one kind. Both are separate OS processes so
 * their CPU, memory and I/O are read from /proc without instrumenting them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import BetterSqlite3 from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiClient, type Api } from '../test/support/http.js';
import { registerUser } from '../test/support/server.js';
import { type BenchDatabase, createBenchDatabase, PostgresObserver } from './database.js';
import { onCleanup, stderrTail, stopChild, track, waitForLine } from './child-processes.js';
import type { FakeModel } from './model-process.js';
import { readIo } from './proc.js';
import { BENCH_DIR, type DatabaseKind, ROOT, settings, type TargetName } from './settings.js';

export interface RunSpec {
  url: string;
  token?: string;
  body: unknown;
}

export interface Target {
  name: TargetName;
  /** "floor", "tokendance sqlite", "tokendance postgres". */
  label: string;
  database?: DatabaseKind;
  pid: number;
  /** Everything a run needs that is not relaying (sessions), done before the measured window. */
  prepare(count: number): Promise<RunSpec[]>;
  /** PostgreSQL only: CPU ms so far of each backend serving the target, by pid. */
  backendCpu?(): Promise<Map<number, number>>;
  /** Bytes written to storage so far: /proc/<pid>/io write_bytes, or the cluster's WAL on PostgreSQL. */
  storageBytes(): Promise<number | undefined>;
}

export interface BenchUser {
  token: string;
  workspaceId: string;
}

export interface TokenDanceTarget extends Target {
  name: 'tokendance';
  database: DatabaseKind;
  url: string;
  api: Api;
  newUser(): Promise<BenchUser>;
  createSession(user: BenchUser): Promise<string>;
  /** Set when started with an --inspect flag: the inspector's WebSocket address. */
  inspectorUrl?: string;
  stop(): Promise<void>;
}

export async function startFloor(fake: FakeModel): Promise<Target> {
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'bare-relay.ts'), fake.baseUrl], {
      cwd: ROOT,
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  onCleanup('bare relay', () => stopChild(child));
  const url = await waitForLine(child, /listening on (\S+)/, 'bare relay', { stderr: stderrTail(child) });
  return {
    name: 'floor',
    label: 'floor',
    pid: child.pid!,
    prepare: async (count) => Array.from({ length: count }, () => ({ url: `${url}/relay`, body: { content: 'go' } })),
    storageBytes: async () => readIo(child.pid!)?.writeBytes,
  };
}

/**
 * The server's limits are raised so that they never cap what is measured: the capacity search
 * opens hundreds of streams for one user, and sets up thousands of sessions a minute.
 */
function serverToml(database: BenchDatabase, dataDir: string, fake: FakeModel): string {
  return [
    '[server]',
    'host = "127.0.0.1"',
    'port = 0',
    'shutdown_grace_s = 2',
    // Longer than any pause between scenarios, so a kept-alive client socket is never closed under a new request.
    'keep_alive_timeout_s = 120',
    '[database]',
    `url = "${database.url}"`,
    '[data]',
    `dir = "${dataDir}"`,
    '[log]',
    'level = "silent"',
    '[providers.fake]',
    'type = "openai-compatible"',
    `base_url = "${fake.baseUrl}"`,
    'model = "fake-model"',
    '[model]',
    'default = "fake"',
    '[limits]',
    'requests_per_minute = 100000000',
    // Per-user stream limit: the capacity search holds up to BENCH_CAPACITY_STEPS' largest count at once.
    `sse_concurrent = ${Math.max(100_000, ...settings.capacity.steps.map((step) => step * 2))}`,
  ].join('\n');
}

export async function startTokenDance(fake: FakeModel, kind: DatabaseKind, options: { nodeArgs?: string[] } = {}): Promise<TokenDanceTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'tokendance-bench-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const database = await createBenchDatabase(kind, dataDir, settings.pgAdminUrl);
  onCleanup(`${kind} database and temp dir`, async () => {
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  const configPath = join(dir, 'tokendance.toml');
  writeFileSync(configPath, serverToml(database, dataDir, fake));

  const nodeArgs = options.nodeArgs ?? settings.serverNodeArgs;
  const child: ChildProcess = track(
    spawn(process.execPath, [...nodeArgs, settings.serverCli, '--config', configPath, 'serve'], {
      // The repository root, so relative paths in BENCH_SERVER_NODE_ARGS (--cpu-prof-dir=bench/profiles) mean what they say.
      cwd: ROOT,
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const stderr = stderrTail(child);
  const inspecting = nodeArgs.some((arg) => arg.startsWith('--inspect'));
  const inspectorUrl = inspecting ? waitForLine(child, /Debugger listening on (ws:\/\/\S+)/, 'inspector', { stream: 'stderr', stderr }) : undefined;
  const url = await waitForLine(child, /listening on (\S+)/, `tokendance (${kind})`, { stderr });
  // Registered after the database, so it runs first: the server stops before its database goes.
  const stop = () => stopChild(child, 8000);
  onCleanup(`tokendance server (${kind})`, stop);

  const api = apiClient(url);
  let observer: PostgresObserver | undefined;
  if (kind === 'postgres') {
    observer = await PostgresObserver.connect(settings.pgAdminUrl);
    const connection = observer;
    onCleanup('postgres admin connection', () => connection.end());
  }
  const checkpoints = kind === 'sqlite' ? new SqliteCheckpoints(join(dataDir, 'tokendance.db')) : undefined;
  if (checkpoints) onCleanup('sqlite checkpoint connection', async () => checkpoints.close());
  const newUser = async (): Promise<BenchUser> => {
    const user = await registerUser(api);
    return { token: user.token, workspaceId: user.workspaceId };
  };
  const createSession = async (user: BenchUser): Promise<string> => {
    const response = await api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } });
    if (response.status !== 201) throw new Error(`create session failed: ${response.status} ${response.text}`);
    return response.body.id as string;
  };
  const user = await newUser();
  return {
    name: 'tokendance',
    label: `tokendance ${kind}`,
    database: kind,
    pid: child.pid!,
    url,
    api,
    newUser,
    createSession,
    inspectorUrl: await inspectorUrl,
    stop,
    backendCpu: observer ? () => observer.backendCpu(database.name!) : undefined,
    storageBytes: async () => {
      if (observer) return observer.walBytes();
      // Checkpointed first: a sample starts with an empty WAL and ends having paid for copying back its own pages.
      checkpoints!.copyBack();
      const written = readIo(child.pid!)?.writeBytes;
      return written === undefined ? undefined : written + checkpoints!.bytes;
    },
    prepare: async (count) => {
      const ids: string[] = [];
      // A few at a time: session creation is set-up, not what is measured.
      for (let at = 0; at < count; at += 20) {
        ids.push(...(await Promise.all(Array.from({ length: Math.min(20, count - at) }, () => createSession(user)))));
      }
      return ids.map((id) => ({ url: `${url}/api/v1/chat/${id}/message`, token: user.token, body: { content: 'go' } }));
    },
  };
}

/**
 * The bench's own connection to a server's SQLite database, to copy its WAL back into the
 * database file around every sample (TRUNCATE checkpoint). The server checkpoints every few
 * seconds from a worker, so a sample would otherwise pay, or not, for copying back the pages of
 * whatever ran before it; this way each pays for its own. Bytes the bench writes doing so are
 * counted from its own /proc/self/io.
 */
class SqliteCheckpoints {
  private readonly connection: BetterSqlite3.Database;
  /** Bytes the bench's checkpoints have written so far. */
  bytes = 0;

  constructor(path: string) {
    this.connection = new BetterSqlite3(path);
    this.connection.pragma('busy_timeout = 2000');
  }

  copyBack(): void {
    const before = readIo(process.pid)?.writeBytes ?? 0;
    this.connection.pragma('wal_checkpoint(TRUNCATE)');
    this.bytes += (readIo(process.pid)?.writeBytes ?? 0) - before;
  }

  close(): void {
    this.connection.close();
  }
}
