// Diagnostic preload for the server (SQLite only): counts the statements better-sqlite3 prepares
// (Kysely's SQLite driver prepares every query, BEGIN and COMMIT included) and the rows per
// events INSERT, and writes them to bench/profiles/sql-counts-<pid>.json at exit.
//
//   BENCH_SERVER_NODE_ARGS="--import ./bench/sql-counter.mjs" BENCH_TARGETS=tokendance npm run bench
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(new URL('../package.json', import.meta.url));
const Database = require('better-sqlite3');

const byStatement = new Map();
const eventsInsertRows = new Map();
let prepares = 0;

const original = Database.prototype.prepare;
Database.prototype.prepare = function prepare(sql) {
  prepares += 1;
  const shape = String(sql)
    .replace(/\(\?(, \?)*\)(, \(\?(, \?)*\))*/g, '(...)')
    .replace(/\s+/g, ' ')
    .slice(0, 120);
  byStatement.set(shape, (byStatement.get(shape) ?? 0) + 1);
  if (/^insert into "events"/i.test(sql)) {
    const rows = (String(sql).match(/\(\?/g) ?? []).length;
    eventsInsertRows.set(rows, (eventsInsertRows.get(rows) ?? 0) + 1);
  }
  return original.call(this, sql);
};

process.on('exit', () => {
  const dir = fileURLToPath(new URL('./profiles/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const sorted = (map) => Object.fromEntries([...map].sort((a, b) => b[1] - a[1]));
  const inserts = [...eventsInsertRows].reduce((sum, [, count]) => sum + count, 0);
  const rows = [...eventsInsertRows].reduce((sum, [size, count]) => sum + size * count, 0);
  writeFileSync(
    `${dir}sql-counts-${process.pid}.json`,
    JSON.stringify(
      {
        prepares,
        events_inserts: inserts,
        events_rows: rows,
        rows_per_insert: inserts ? rows / inserts : 0,
        insert_size_histogram: Object.fromEntries([...eventsInsertRows].sort((a, b) => a[0] - b[0])),
        statements: sorted(byStatement),
      },
      null,
      2,
    ),
  );
});
