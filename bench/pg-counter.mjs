// Diagnostic preload for the server (PostgreSQL): counts the queries node-postgres sends, by
// shape, the rows per events INSERT and the errors returned, and writes them to
// bench/profiles/pg-counts-<pid>.json at exit.
//
//   TEST_DATABASE=postgres BENCH_SERVER_NODE_ARGS="--import ./bench/pg-counter.mjs" BENCH_TARGETS=tokendance npm run bench
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(new URL('../package.json', import.meta.url));
const pg = require('pg');

const byShape = new Map();
const errors = new Map();
const insertRows = new Map();
let queries = 0;
const bump = (map, key, by = 1) => map.set(key, (map.get(key) ?? 0) + by);

const original = pg.Client.prototype.query;
pg.Client.prototype.query = function query(config, values, callback) {
  const text = typeof config === 'string' ? config : config?.text;
  if (typeof text === 'string') {
    queries += 1;
    bump(byShape, text.replace(/\(\$\d+(, \$\d+)*\)(, \(\$\d+(, \$\d+)*\))*/g, '(...)').replace(/\$\d+/g, '$').replace(/\s+/g, ' ').slice(0, 110));
    if (/^insert into "events"/i.test(text)) bump(insertRows, (text.match(/\(\$/g) ?? []).length);
  }
  const result = original.call(this, config, values, callback);
  if (result && typeof result.catch === 'function') {
    result.catch((error) => bump(errors, `${error?.code ?? ''} ${String(error?.message ?? error).slice(0, 160)}`));
  }
  return result;
};

process.on('exit', () => {
  const dir = fileURLToPath(new URL('./profiles/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const sorted = (map) => Object.fromEntries([...map].sort((a, b) => b[1] - a[1]));
  const inserts = [...insertRows].reduce((sum, [, count]) => sum + count, 0);
  const rows = [...insertRows].reduce((sum, [size, count]) => sum + size * count, 0);
  writeFileSync(
    `${dir}pg-counts-${process.pid}.json`,
    JSON.stringify(
      {
        queries,
        events_inserts: inserts,
        events_rows: rows,
        rows_per_insert: inserts ? rows / inserts : 0,
        insert_size_histogram: Object.fromEntries([...insertRows].sort((a, b) => a[0] - b[0])),
        errors: sorted(errors),
        queries_by_shape: sorted(byShape),
      },
      null,
      2,
    ),
  );
});
