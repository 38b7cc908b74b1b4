import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { startCheckpointer } from './sqlite/checkpointer.js';
import { withNamedStatements } from './postgres/named-statements.js';
import { withStatementCache } from './statement-cache.js';

export type Dialect = 'sqlite' | 'postgres';

export interface DatabaseHandle {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Human-readable location without credentials, for logs and health. */
  location: string;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** The driver underneath, for the event log's hot path (prepared statements, one round trip). */
  driver: { dialect: 'sqlite'; connection: BetterSqlite3.Database } | { dialect: 'postgres'; pool: pg.Pool };
}

// int8 (counts, cursors) as JS numbers: every value we store stays far below 2^53.
pg.types.setTypeParser(20, (value) => Number.parseInt(value, 10));

export function openDatabase(url: string, cwd: string = process.cwd()): DatabaseHandle {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return openPostgres(url);
  if (url.startsWith('sqlite:')) return openSqlite(url, cwd);
  throw new Error(`database.url must start with sqlite: or postgres://, got "${url.split(':')[0]}:"`);
}

function openSqlite(url: string, cwd: string): DatabaseHandle {
  const target = url.replace(/^sqlite:(\/\/)?/, '');
  const path = target === ':memory:' ? ':memory:' : resolve(cwd, target);
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const connection = new BetterSqlite3(path);
  // Only a new database takes it (an existing one keeps its own). Most pages a commit dirties are
  // the newest index leaf of each session streaming: at 4 KB a page, each ~10 new 40-byte entries
  // rewrote 4 KB; at 1 KB the WAL and its checkpoints carry a quarter of that.
  connection.pragma('page_size = 1024');
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = NORMAL');
  connection.pragma('foreign_keys = ON');
  connection.pragma('busy_timeout = 5000');
  // A statement that writes many rows (the event log's batched INSERT) keeps its undo journal in
  // memory instead of writing every page it touches to a temporary file first.
  connection.pragma('temp_store = MEMORY');
  // Checkpoints happen off the event loop (checkpointer.ts); the automatic one stays only as a safety net.
  const checkpointer = path === ':memory:' ? undefined : startCheckpointer(path);
  if (checkpointer) connection.pragma('wal_autocheckpoint = 20000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(connection) }) });
  return {
    db,
    dialect: 'sqlite',
    location: path,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: async () => {
      await checkpointer?.stop();
      await db.destroy();
    },
    driver: { dialect: 'sqlite', connection },
  };
}

function openPostgres(url: string): DatabaseHandle {
  // Idle connections live a minute (pg's default: 10 s): a new backend costs PostgreSQL milliseconds of
  // CPU to start, and every named statement is parsed and planned again on it.
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000, idleTimeoutMillis: 60_000 });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: withNamedStatements(pool) }) });
  const parsed = new URL(url);
  return {
    db,
    dialect: 'postgres',
    location: `postgres://${parsed.host}${parsed.pathname}`,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
    driver: { dialect: 'postgres', pool },
  };
}
