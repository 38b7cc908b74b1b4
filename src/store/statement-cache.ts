import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/** Distinct SQL texts kept prepared; Kysely's texts use placeholders, so a few hundred cover the program. */
const CAPACITY = 500;

/**
 * The connection as Kysely's SQLite dialect sees it, with statements reused by SQL text: Kysely
 * prepares every query anew, and on short queries preparing costs more than running. Least
 * recently used texts are dropped past CAPACITY (e.g. `in (…)` lists of many lengths).
 */
export function withStatementCache(connection: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => connection.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (statement) {
        cache.delete(sql);
      } else {
        statement = connection.prepare(sql);
        if (cache.size >= CAPACITY) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}
