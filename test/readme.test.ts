import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TestEnvironment, type TestServer } from './support/server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The README's curl walkthrough: the bash block that starts by setting B. */
function walkthrough(): string {
  const block = /```bash\n(B=http:\/\/127\.0\.0\.1:8000\n[\s\S]*?)```/.exec(README)?.[1];
  assert.ok(block, 'the README has no walkthrough block starting with B=http://127.0.0.1:8000');
  return block;
}

describe('README', () => {
  let environment: TestEnvironment;
  let server: TestServer;
  before(async () => {
    environment = await TestEnvironment.create();
    server = await environment.spawn();
  });
  after(async () => {
    await server.stop();
    await environment.destroy();
  });

  test('the curl walkthrough runs as pasted against a running server, twice', async () => {
    assert.equal(spawnSync('jq', ['--version']).status, 0, 'the walkthrough needs jq (apt-get install jq)');
    // Only the server address and the scratch file differ from the text a reader pastes.
    const streamFile = join(environment.dir, 'stream.out');
    const script = walkthrough().replace('B=http://127.0.0.1:8000', `B=${server.url}`).replaceAll('/tmp/stream.out', streamFile);
    for (const round of [1, 2]) {
      const { code, stdout, stderr } = await runBash(script, environment.dir);
      assert.equal(code, 0, `round ${round}: ${stderr}`);
      assert.ok(!/null|parse error/.test(stderr), `round ${round}: ${stderr}`);
      assert.match(stdout, /^event: tool_call$/m, `round ${round}: the chat stream`);
      assert.match(stdout, /^event: done$/m);
      assert.match(stdout, /^hello\.txt$/m, 'the artifact list');
      assert.match(stdout, /"success":true,"data":\{"task_id":"[\w-]+","status":"(started|queued)"/);
      assert.match(stdout, /^"healthy"$/m);
      assert.match(stdout, /^[1-9]\d*$/m, 'the Service API stream delivered frames');
      const frames = readFileSync(streamFile, 'utf8');
      assert.match(frames, /"type":"task_completed"/, 'the executed task completed on the stream');
      assert.match(frames, /"content":"hello from test script"/);
    }
  });

  test('links stay inside the repository and point at files that exist', () => {
    assert.ok(!README.includes('../'), 'the README points outside the repository');
    assert.ok(!/SPEC\.md/.test(README), 'the README mentions a file that is not in the repository');
    for (const [, target] of README.matchAll(/\]\(([^)#\s]+)[^)]*\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      assert.ok(existsSync(join(ROOT, target!)), `README links to missing ${target}`);
    }
    assert.match(README, /--port 5173/, 'how to serve on the port the Service API documents use');
  });
});

function runBash(script: string, cwd: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolvePromise) => {
    const child = spawn('bash', ['-c', script], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}
