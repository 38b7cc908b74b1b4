/**
 * A fresh database per tokendance server, for either kind in one bench process. It mirrors
 * test/support/database.ts, which picks its kind once from TEST_DATABASE at import time and so
 * cannot serve both kinds in one run.
 *
 * For PostgreSQL it also reads what the server's own process cannot show: the CPU of the
 * backends serving it (separate processes) and the WAL the cluster wrote.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { readCpu } from './proc.js';
import type { DatabaseKind } from './settings.js';

export interface BenchDatabase {
  kind: DatabaseKind;
  url: string;
  /** PostgreSQL database name (backends are found by it); undefined for SQLite. */
  name?: string;
  drop(): Promise<void>;
}

export async function createBenchDatabase(kind: DatabaseKind, dataDir: string, pgAdminUrl: string): Promise<BenchDatabase> {
  if (kind === 'sqlite') return { kind, url: `sqlite://${dataDir}/tokendance.db`, drop: async () => {} };
  const name = `td_bench_${randomBytes(6).toString('hex')}`;
  await withAdmin(pgAdminUrl, (admin) => admin.query(`create database ${name}`));
  const url = new URL(pgAdminUrl);
  url.pathname = `/${name}`;
  return {
    kind,
    url: url.toString(),
    name,
    drop: () => withAdmin(pgAdminUrl, (admin) => admin.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}

async function withAdmin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** One admin connection kept open for readings taken around every sample. */
export class PostgresObserver {
  private constructor(private readonly client: pg.Client) {}

  static async connect(adminUrl: string): Promise<PostgresObserver> {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    return new PostgresObserver(client);
  }

  /** CPU ms so far of each backend connected to `database`, by pid (local server only). */
  async backendCpu(database: string): Promise<Map<number, number>> {
    const { rows } = await this.client.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [database]);
    const cpu = new Map<number, number>();
    for (const { pid } of rows) {
      try {
        const reading = readCpu(pid);
        cpu.set(pid, reading.schedMs ?? reading.tickMs);
      } catch {
        // Not on this machine (remote server) or already gone.
      }
    }
    return cpu;
  }

  /**
   * Bytes of WAL the whole cluster has generated so far. The insert position, not the flushed one:
   * it already counts WAL that is written but not yet flushed when the sample ends. Whole cluster,
   * because WAL is not kept per database; nothing else should use the cluster during a bench.
   */
  async walBytes(): Promise<number> {
    const { rows } = await this.client.query<{ bytes: string }>("select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::text as bytes");
    return Number(rows[0]!.bytes);
  }

  end(): Promise<void> {
    return this.client.end();
  }
}

/** Sum over backends of the CPU between two readings; a backend that appeared counts from zero. */
export function backendCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}
