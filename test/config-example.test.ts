import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';
import { loadConfig } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';
import { schemaNode } from '../src/config/schema-keys.js';

const EXAMPLE_PATH = fileURLToPath(new URL('../tokendance.example.toml', import.meta.url));

/** The example with its commented-out keys and tables (`# key = …`, `# [table]`) switched on. */
const uncommented = (text: string) => text.replace(/^# (?=\[|"[^"]+"\s*=|[A-Za-z0-9_]+\s*=)/gm, '');

/** Paths of schema keys missing from `raw` (for maps and lists: from every entry together). */
function missingKeys(schema: z.ZodType, raw: unknown, path: string): string[] {
  const node = schemaNode(schema);
  const entries = (value: unknown): unknown[] =>
    node.kind === 'array' ? (Array.isArray(value) ? value : []) : value && typeof value === 'object' ? Object.values(value) : [];
  if (node.kind === 'object') {
    const object = (raw ?? {}) as Record<string, unknown>;
    return Object.entries(node.shape).flatMap(([key, child]) =>
      key in object ? missingKeys(child, object[key], `${path}${key}.`) : [`${path}${key}`],
    );
  }
  if (node.kind === 'record' || node.kind === 'array') {
    const valueSchema = node.kind === 'record' ? node.value : node.element;
    const objects = schemaNode(valueSchema).kind === 'object';
    if (node.kind === 'array' && !objects) return []; // a list of values: the key itself is shown
    const items = entries(raw);
    if (items.length === 0) return [`${path}<entry>`];
    if (!objects) return [];
    // A key counts as shown when any entry has it (an MCP server has a command or a url, never both).
    const merged = Object.assign({}, ...items.map((item) => (item && typeof item === 'object' ? item : {})));
    return missingKeys(valueSchema, merged, `${path}*.`);
  }
  return [];
}

describe('tokendance.example.toml', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tokendance-example-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('valid, shows the defaults, has every schema key, each explained', () => {
    const text = readFileSync(EXAMPLE_PATH, 'utf8');
    // As shipped it is the defaults: copying it changes nothing.
    const shipped = loadConfig({ cwd: dir, path: EXAMPLE_PATH, env: {} }).config;
    assert.deepEqual(shipped, loadConfig({ cwd: dir, env: {} }).config);

    // With every optional key switched on it is still valid, and it names every key of the schema.
    const full = uncommented(text);
    writeFileSync(join(dir, 'example-full.toml'), full);
    const enabled = loadConfig({ cwd: dir, path: 'example-full.toml', env: {} }).config;
    assert.equal(enabled.providers.spark?.api_key_env, 'SPARK_API_KEY');
    assert.equal(enabled.mcp.servers.length, 2);
    assert.deepEqual(missingKeys(configSchema, parseToml(full), ''), []);

    // Every key line says what the key does: a comment on the line or just above it.
    const lines = text.split('\n');
    lines.forEach((line, index) => {
      const key = /^(?:# )?("[^"]+"|[A-Za-z0-9_]+)\s*=/.exec(line);
      if (!key) return;
      const explained = /=.*\s#\s*\S/.test(line) || /^#\s/.test(lines[index - 1] ?? '') && !/^# ("[^"]+"|[A-Za-z0-9_]+)\s*=/.test(lines[index - 1] ?? '');
      assert.ok(explained, `line ${index + 1} (${key[1]}) has no comment`);
    });
  });
});
