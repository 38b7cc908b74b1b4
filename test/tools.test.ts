import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import type { Config } from '../src/config/schema.js';
import { createBuiltinTools } from '../src/tools/builtin.js';
import { ToolInputError } from '../src/tools/errors.js';
import { createFileListTool, FILE_LIST_MAX_ENTRIES } from '../src/tools/file-list.js';
import { createFileReadTool } from '../src/tools/file-read.js';
import { createFileWriteTool } from '../src/tools/file-write.js';
import { matchesPattern, resolvePolicy } from '../src/tools/policy.js';
import { fromWireName, ToolRegistry, wireName } from '../src/tools/registry.js';
import { truncateOutput } from '../src/tools/truncate-output.js';
import type { Tool, ToolContext } from '../src/tools/types.js';
import { resolveWorkspacePath } from '../src/tools/workspace-path.js';

// ---------------------------------------------------------------------------------------------
// Helpers

const agentConfig: Config['agent'] = {
  max_iterations: 25,
  run_timeout_s: 1800,
  approval_timeout_s: 600,
  tool_timeout_s: 120,
  tool_result_max_chars: 20000,
  file_read_max_bytes: 1048576,
};
const options = { timeoutMs: 5000, maxResultChars: 20000 };

let base: string;
let outside: string;

before(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'tokendance-tools-')));
  outside = join(base, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'secret.txt'), 'top secret');
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

let workspaceCount = 0;
async function newWorkspace(): Promise<string> {
  const dir = join(base, `ws-${++workspaceCount}`);
  await mkdir(dir);
  return dir;
}

function context(workspaceDir: string, extra: Partial<ToolContext> = {}): ToolContext {
  return { sessionId: 's1', runId: 'r1', workspaceDir, signal: new AbortController().signal, ...extra };
}

function builtinRegistry(config: Config['agent'] = agentConfig): ToolRegistry {
  return new ToolRegistry({ tools: createBuiltinTools(config) });
}

async function call(registry: ToolRegistry, workspaceDir: string, name: string, args: unknown, extra: Partial<ToolContext> = {}) {
  return registry.execute(name, JSON.stringify(args), context(workspaceDir, extra), options);
}

function fakeTool(name: string, overrides: Partial<Tool<{ value?: string }>> = {}): Tool {
  const tool: Tool<{ value?: string }> = {
    name,
    description: `fake ${name}`,
    inputSchema: z.object({ value: z.string().optional() }),
    defaultPolicy: 'allow',
    risk: () => 'low',
    describe: () => ({ operation: name, description: name }),
    execute: async (args) => ({ output: args.value ?? 'ok', success: true }),
    ...overrides,
  };
  return tool as Tool;
}

// ---------------------------------------------------------------------------------------------
// Workspace paths

describe('workspace paths', () => {
  test('resolves relative paths, inner "..", and absolute paths inside the workspace', async () => {
    const ws = await newWorkspace();
    assert.deepEqual(await resolveWorkspacePath(ws, 'a/b.txt'), { absolute: join(ws, 'a/b.txt'), relative: 'a/b.txt' });
    assert.equal((await resolveWorkspacePath(ws, 'a/../c.txt')).relative, 'c.txt');
    assert.equal((await resolveWorkspacePath(ws, '.')).relative, '.');
    assert.equal((await resolveWorkspacePath(ws, join(ws, 'x.txt'))).relative, 'x.txt');
  });

  test('refuses traversal, absolute paths outside, NUL bytes and empty paths', async () => {
    const ws = await newWorkspace();
    for (const bad of ['../x', 'a/../../x', '..', '/etc/passwd', 'a\0b', '', '   ']) {
      await assert.rejects(resolveWorkspacePath(ws, bad), ToolInputError, `should refuse ${JSON.stringify(bad)}`);
    }
  });

  test('refuses symlinks that point outside, including as a parent of a new path', async () => {
    const ws = await newWorkspace();
    await symlink(outside, join(ws, 'out-dir'));
    await symlink(join(outside, 'secret.txt'), join(ws, 'out-file'));
    await symlink(join(outside, 'missing.txt'), join(ws, 'dangling'));
    for (const bad of ['out-dir', 'out-dir/secret.txt', 'out-dir/new/deeper.txt', 'out-file', 'dangling']) {
      await assert.rejects(resolveWorkspacePath(ws, bad), ToolInputError, `should refuse ${bad}`);
    }
  });

  test('allows symlinks that stay inside the workspace', async () => {
    const ws = await newWorkspace();
    await mkdir(join(ws, 'real'));
    await symlink(join(ws, 'real'), join(ws, 'alias'));
    assert.equal((await resolveWorkspacePath(ws, 'alias/file.txt')).relative, 'alias/file.txt');
  });
});

// ---------------------------------------------------------------------------------------------
// Built-in file tools

describe('file tools', () => {
  test('write then read round trip, with onFileWritten', async () => {
    const ws = await newWorkspace();
    const written: string[] = [];
    const registry = builtinRegistry();
    const write = await call(registry, ws, 'file_write', { path: 'notes.txt', content: 'héllo\n' }, {
      onFileWritten: (path) => void written.push(path),
    });
    assert.equal(write.success, true, write.output);
    assert.match(write.output, /Created notes\.txt \(7 bytes written\)/);
    assert.deepEqual(written, ['notes.txt']);
    assert.deepEqual(write.args, { path: 'notes.txt', content: 'héllo\n' });

    const read = await call(registry, ws, 'file_read', { path: 'notes.txt' });
    assert.deepEqual([read.success, read.output], [true, 'héllo\n']);

    const overwrite = await call(registry, ws, 'file_write', { path: 'notes.txt', content: 'bye' });
    assert.match(overwrite.output, /Overwrote notes\.txt \(3 bytes written\)/);
    assert.equal(await readFile(join(ws, 'notes.txt'), 'utf8'), 'bye');
  });

  test('append adds to the end and creates missing files', async () => {
    const ws = await newWorkspace();
    const registry = builtinRegistry();
    await call(registry, ws, 'file_write', { path: 'log.txt', content: 'one\n', append: true });
    const second = await call(registry, ws, 'file_write', { path: 'log.txt', content: 'two\n', append: true });
    assert.match(second.output, /Appended 4 bytes to log\.txt \(file is now 8 bytes\)/);
    assert.equal(await readFile(join(ws, 'log.txt'), 'utf8'), 'one\ntwo\n');
  });

  test('write creates nested directories and refuses directories as targets', async () => {
    const ws = await newWorkspace();
    const registry = builtinRegistry();
    const nested = await call(registry, ws, 'file_write', { path: 'a/b/c/d.md', content: '# d' });
    assert.equal(nested.success, true, nested.output);
    assert.equal(await readFile(join(ws, 'a/b/c/d.md'), 'utf8'), '# d');
    const onDir = await call(registry, ws, 'file_write', { path: 'a/b', content: 'x' });
    assert.equal(onDir.success, false);
    assert.match(onDir.output, /a\/b exists and is not a regular file/);
  });

  test('read reports missing files and directories without host paths', async () => {
    const ws = await newWorkspace();
    await mkdir(join(ws, 'dir'));
    const registry = builtinRegistry();
    const missing = await call(registry, ws, 'file_read', { path: 'nope.txt' });
    assert.equal(missing.success, false);
    assert.equal(missing.output, 'Error: No such file or directory: nope.txt');
    const dir = await call(registry, ws, 'file_read', { path: 'dir' });
    assert.match(dir.output, /dir is a directory; use file_list/);
    assert.ok(!missing.output.includes(ws) && !dir.output.includes(ws));
  });

  test('read truncates large files with a continuation offset, without splitting characters', async () => {
    const ws = await newWorkspace();
    await writeFile(join(ws, 'big.txt'), 'é'.repeat(100)); // 200 bytes
    const tool = createFileReadTool({ maxBytes: 51, defaultBytes: 51 });
    const first = await tool.execute({ path: 'big.txt' }, context(ws));
    assert.equal(first.output, `${'é'.repeat(25)}\n[truncated: showed bytes 0-50 of 200; call file_read with offset=50 to read more]`);
    const capped = await tool.execute({ path: 'big.txt', offset: 50, max_bytes: 10_000 }, context(ws));
    assert.match(capped.output, /showed bytes 50-100 of 200/);
    const last = await tool.execute({ path: 'big.txt', offset: 190 }, context(ws));
    assert.equal(last.output, 'é'.repeat(5));
    const past = await tool.execute({ path: 'big.txt', offset: 500 }, context(ws));
    assert.match(past.output, /past the end/);
  });

  test('default read size keeps the continuation note within the result cap', async () => {
    const ws = await newWorkspace();
    await writeFile(join(ws, 'big.txt'), 'x'.repeat(5000));
    const registry = builtinRegistry({ ...agentConfig, tool_result_max_chars: 1000 });
    const result = await registry.execute('file_read', '{"path":"big.txt"}', context(ws), { ...options, maxResultChars: 1000 });
    assert.match(result.output, /call file_read with offset=800 to read more\]$/);
  });

  test('read refuses binary files', async () => {
    const ws = await newWorkspace();
    await writeFile(join(ws, 'image.bin'), Buffer.from([0x89, 0x50, 0x00, 0x47]));
    const result = await call(builtinRegistry(), ws, 'file_read', { path: 'image.bin' });
    assert.equal(result.success, false);
    assert.match(result.output, /binary file/);
  });

  test('traversal and escaping symlinks are refused by read, write and list', async () => {
    const ws = await newWorkspace();
    await symlink(outside, join(ws, 'link'));
    await symlink(join(outside, 'secret.txt'), join(ws, 'secret-link'));
    const registry = builtinRegistry();
    const attempts: Array<[string, unknown]> = [
      ['file_read', { path: '../outside/secret.txt' }],
      ['file_read', { path: '/etc/passwd' }],
      ['file_read', { path: 'secret-link' }],
      ['file_read', { path: 'link/secret.txt' }],
      ['file_read', { path: 'a\0b' }],
      ['file_write', { path: '../escape.txt', content: 'x' }],
      ['file_write', { path: 'link/planted.txt', content: 'x' }],
      ['file_write', { path: 'link/sub/planted.txt', content: 'x' }],
      ['file_write', { path: 'secret-link', content: 'overwritten' }],
      ['file_write', { path: '/tmp/tokendance-escape.txt', content: 'x' }],
      ['file_list', { path: 'link' }],
      ['file_list', { path: '..' }],
    ];
    for (const [name, args] of attempts) {
      const result = await call(registry, ws, name, args);
      assert.equal(result.success, false, `${name} ${JSON.stringify(args)} should fail`);
      assert.ok(!result.output.includes('top secret'));
    }
    assert.equal(await readFile(join(outside, 'secret.txt'), 'utf8'), 'top secret');
    await assert.rejects(readFile(join(outside, 'planted.txt')));
    await assert.rejects(readFile(join(base, 'escape.txt')));
  });

  test('list shows type and size, sorted, recursive, without following symlinks', async () => {
    const ws = await newWorkspace();
    await mkdir(join(ws, 'sub/deeper'), { recursive: true });
    await writeFile(join(ws, 'b.txt'), '12345');
    await writeFile(join(ws, 'a.txt'), '');
    await writeFile(join(ws, 'sub/deeper/z.md'), 'zz');
    await symlink(outside, join(ws, 'link'));
    const registry = builtinRegistry();

    const flat = await call(registry, ws, 'file_list', {});
    assert.equal(
      flat.output,
      ['Contents of .:', 'a.txt (file, 0 bytes)', 'b.txt (file, 5 bytes)', `link (symlink -> ${outside})`, 'sub/ (directory)'].join('\n'),
    );
    const recursive = await call(registry, ws, 'file_list', { recursive: true });
    assert.deepEqual(recursive.output.split('\n').slice(4), ['sub/ (directory)', 'sub/deeper/ (directory)', 'sub/deeper/z.md (file, 2 bytes)']);
    assert.ok(!recursive.output.includes('secret.txt'));

    const sub = await call(registry, ws, 'file_list', { path: 'sub', recursive: true });
    assert.equal(sub.output, ['Contents of sub (recursive):', 'deeper/ (directory)', 'deeper/z.md (file, 2 bytes)'].join('\n'));
    const file = await call(registry, ws, 'file_list', { path: 'b.txt' });
    assert.match(file.output, /not a directory/);
  });

  test('list caps the number of entries with a note', async () => {
    const ws = await newWorkspace();
    await Promise.all(
      Array.from({ length: FILE_LIST_MAX_ENTRIES + 5 }, (_, i) => writeFile(join(ws, `f${String(i).padStart(4, '0')}`), '')),
    );
    const result = await createFileListTool().execute({ path: '.', recursive: false }, context(ws));
    const lines = result.output.split('\n');
    assert.equal(lines.length, 1 + FILE_LIST_MAX_ENTRIES + 1);
    assert.match(lines.at(-1)!, /listing stopped at 1000 entries/);
    assert.equal(lines.at(-2), 'f0999 (file, 0 bytes)');
  });

  test('describe and risk are usable for approvals', () => {
    const write = createFileWriteTool();
    assert.deepEqual(write.describe({ path: 'notes.txt', content: 'abc' }), { operation: 'file_write', description: 'Write 3 bytes to notes.txt' });
    assert.equal(write.risk({ path: 'notes.txt', content: 'abc' }), 'medium');
    assert.equal(createFileListTool().risk({ path: '.', recursive: false }), 'low');
  });
});

// ---------------------------------------------------------------------------------------------
// Registry

describe('tool registry', () => {
  test('wire names map dotted names and back', () => {
    assert.equal(wireName('mcp.server.tool'), 'mcp__server__tool');
    assert.equal(fromWireName('mcp__server__tool'), 'mcp.server.tool');
    assert.equal(wireName('file_read'), 'file_read');
    assert.equal(fromWireName('file_read'), 'file_read');
    const registry = new ToolRegistry({ tools: [fakeTool('mcp.git-hub.search_issues')] });
    assert.equal(registry.wireName('mcp.git-hub.search_issues'), 'mcp__git-hub__search_issues');
    assert.equal(registry.fromWireName('mcp__git-hub__search_issues'), 'mcp.git-hub.search_issues');
    assert.equal(registry.fromWireName('not_registered'), 'not_registered');
    assert.equal(registry.get('mcp__git-hub__search_issues')?.name, 'mcp.git-hub.search_issues');
  });

  test('names that cannot round-trip get distinct hashed wire names; duplicates are refused; unregister removes', () => {
    const registry = new ToolRegistry();
    const odd = ['a__b', '_x', 'x_', 'a.b c', 'a..b', 'x'.repeat(65)];
    for (const name of odd) registry.register(fakeTool(name));
    const wires = odd.map((name) => registry.wireName(name));
    assert.ok(wires.every((wire) => /^[A-Za-z0-9_-]{1,64}$/.test(wire)), wires.join(' '));
    assert.equal(new Set(wires).size, odd.length);
    assert.deepEqual(wires.map((wire) => registry.fromWireName(wire)), odd);
    for (const name of odd) registry.unregister(name);
    assert.throws(() => registry.register(fakeTool('')), /empty/);
    registry.register(fakeTool('mcp.s.t'));
    assert.throws(() => registry.register(fakeTool('mcp.s.t')), /already registered/);
    assert.equal(registry.unregister('mcp__s__t'), true);
    assert.equal(registry.unregister('mcp.s.t'), false);
    assert.deepEqual(registry.list(), []);
  });

  test('policy wildcards: most specific wins, exact beats wildcard, ties go to the stricter policy', () => {
    assert.equal(matchesPattern('mcp.*', 'mcp.server.tool'), true);
    assert.equal(matchesPattern('mcp.*', 'mcpx'), false);
    assert.equal(matchesPattern('*.search', 'mcp.web.search'), true);
    assert.equal(matchesPattern('file_read', 'file_read'), true);

    const overrides = { '*': 'ask', 'mcp.*': 'deny', 'mcp.web.*': 'allow', 'mcp.web.fetch': 'ask' } as const;
    assert.equal(resolvePolicy('file_read', overrides, 'allow'), 'ask');
    assert.equal(resolvePolicy('mcp.git.push', overrides, 'allow'), 'deny');
    assert.equal(resolvePolicy('mcp.web.search', overrides, 'ask'), 'allow');
    assert.equal(resolvePolicy('mcp.web.fetch', overrides, 'allow'), 'ask');
    assert.equal(resolvePolicy('other', {}, 'allow'), 'allow');
    assert.equal(resolvePolicy('ab', { 'a*': 'allow', '*b': 'deny' }, 'allow'), 'deny');
    assert.equal(resolvePolicy('ab', { 'ab*': 'deny', ab: 'allow' }, 'ask'), 'allow');

    const registry = new ToolRegistry({ tools: [fakeTool('mcp.web.search'), fakeTool('file_read')], policy: { 'mcp.*': 'ask' } });
    assert.equal(registry.policyFor('mcp__web__search'), 'ask');
    assert.equal(registry.policyFor('file_read'), 'allow');
    assert.equal(registry.policyFor('file_read', { file_read: 'deny' }), 'deny');
    assert.equal(registry.policyFor('unknown'), 'deny');
  });

  test('specs exclude denied tools, honour profile patterns, and carry JSON Schema', () => {
    const fileTools = createBuiltinTools(agentConfig).filter((tool) => tool.name.startsWith('file_'));
    const registry = new ToolRegistry({ tools: [...fileTools, fakeTool('mcp.web.search')], policy: { file_list: 'deny', file_delete: 'deny' } });
    assert.deepEqual(registry.specs().map((spec) => spec.name), ['file_read', 'file_write', 'mcp__web__search']);
    assert.deepEqual(registry.specs(['mcp.*', 'file_list']).map((spec) => spec.name), ['mcp__web__search']);
    assert.deepEqual(registry.specs(['file_*']).map((spec) => spec.name), ['file_read', 'file_write']);
    // A workspace policy layers over the server's: it may deny more, but never lift a server deny.
    assert.deepEqual(registry.specs(undefined, undefined, { file_write: 'deny', file_list: 'allow' }).map((spec) => spec.name), ['file_read', 'mcp__web__search']);

    const write = registry.specs().find((spec) => spec.name === 'file_write')!;
    assert.equal(write.parameters.type, 'object');
    assert.deepEqual(write.parameters.required, ['path', 'content']);
    assert.equal('$schema' in write.parameters, false);
    const list = new ToolRegistry({ tools: fileTools }).specs().find((spec) => spec.name === 'file_list')!;
    assert.equal(list.parameters.required, undefined, 'defaulted fields are optional for the model');
    assert.match(write.description, /append/);
  });

  test('parseArgs validates before approval', () => {
    const registry = builtinRegistry();
    const ok = registry.parseArgs('file_write', '{"path":"a.txt","content":"x"}');
    assert.ok(ok.ok);
    assert.equal(ok.tool.name, 'file_write');
    assert.deepEqual(ok.args, { path: 'a.txt', content: 'x' });
    const defaults = registry.parseArgs('file_list', '');
    assert.ok(defaults.ok);
    assert.deepEqual(defaults.args, { path: '.', recursive: false });
    const bad = registry.parseArgs('file_write', '{"path":1}');
    assert.ok(!bad.ok);
    assert.match(bad.error, /- path: .*expected string/);
    assert.match(bad.error, /- content: /);
  });

  test('bad calls become failed results instead of exceptions', async () => {
    const ws = await newWorkspace();
    const registry = new ToolRegistry({
      tools: [
        ...createBuiltinTools(agentConfig),
        fakeTool('boom', { execute: async () => Promise.reject(new Error('kaboom')) }),
        fakeTool('sync_boom', {
          execute: () => {
            throw new Error('sync kaboom');
          },
        }),
      ],
    });
    const ctx = context(ws);

    const unknown = await registry.execute('nope', '{}', ctx, options);
    assert.equal(unknown.success, false);
    assert.match(unknown.output, /^Unknown tool "nope"\. Available tools: boom, (\w+, )*file_list, file_read, file_write, (\w+, )*sync_boom$/);
    assert.equal(unknown.args, null);

    const invalidJson = await registry.execute('file_read', '{"path": ', ctx, options);
    assert.equal(invalidJson.success, false);
    assert.match(invalidJson.output, /^Invalid JSON in the arguments for tool "file_read": /);

    const mismatch = await registry.execute('file_read', '{"path": 42, "offset": -1}', ctx, options);
    assert.equal(mismatch.success, false);
    assert.match(mismatch.output, /Invalid arguments for tool "file_read":\n- path: .*\n- offset: /);

    const notObject = await registry.execute('file_read', '[1,2]', ctx, options);
    assert.equal(notObject.success, false);

    const thrown = await registry.execute('boom', '{}', ctx, options);
    assert.deepEqual([thrown.success, thrown.output], [false, 'Tool "boom" failed: kaboom']);
    assert.deepEqual(thrown.args, {});
    const syncThrown = await registry.execute('sync_boom', '{}', ctx, options);
    assert.deepEqual([syncThrown.success, syncThrown.output], [false, 'Tool "sync_boom" failed: sync kaboom']);
    assert.equal(typeof thrown.durationMs, 'number');
  });

  test('timeouts abort the tool and return even if the tool ignores its signal', async () => {
    const ws = await newWorkspace();
    let sawAbort = false;
    const cooperative = fakeTool('slow', {
      execute: (_args, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            sawAbort = true;
            resolve({ output: 'late', success: true });
          });
        }),
    });
    const stubborn = fakeTool('stuck', { execute: () => new Promise(() => {}) });
    const registry = new ToolRegistry({ tools: [cooperative, stubborn] });

    const slow = await registry.execute('slow', '{}', context(ws), { timeoutMs: 30, maxResultChars: 1000 });
    assert.deepEqual([slow.success, slow.output], [false, 'Tool "slow" timed out after 0.03s and was aborted.']);
    assert.equal(sawAbort, true);

    const stuck = await registry.execute('stuck', '{}', context(ws), { timeoutMs: 30, maxResultChars: 1000 });
    assert.equal(stuck.success, false);
    assert.match(stuck.output, /timed out/);
    assert.ok(stuck.durationMs >= 25 && stuck.durationMs < 2000);
  });

  test('cancelling the run cancels the tool', async () => {
    const ws = await newWorkspace();
    const registry = new ToolRegistry({ tools: [fakeTool('stuck', { execute: () => new Promise(() => {}) })] });
    const controller = new AbortController();
    const pending = registry.execute('stuck', '{}', context(ws, { signal: controller.signal }), options);
    setTimeout(() => controller.abort(), 10);
    assert.deepEqual([(await pending).success, (await pending).output], [false, 'Tool "stuck" was cancelled.']);

    const already = await registry.execute('stuck', '{}', context(ws, { signal: controller.signal }), options);
    assert.match(already.output, /cancelled before it started/);
  });

  test('large results are truncated with a note', async () => {
    const ws = await newWorkspace();
    const registry = new ToolRegistry({ tools: [fakeTool('echo')] });
    const result = await registry.execute('echo', JSON.stringify({ value: 'y'.repeat(250) }), context(ws), {
      timeoutMs: 1000,
      maxResultChars: 100,
    });
    assert.equal(result.success, true);
    assert.equal(result.output, `${'y'.repeat(100)}\n[output truncated: 100 of 250 characters shown]`);
    assert.equal(truncateOutput('ab😀cd', 3), 'ab\n[output truncated: 2 of 6 characters shown]');
    assert.equal(truncateOutput('short', 100), 'short');
  });
});
