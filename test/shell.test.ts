import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config/load.js';
import { startServer } from '../src/server.js';
import { startFakeOpenAI } from './support/fake-openai.js';
import { fakeProviderToml } from './support/fake-provider-config.js';
import { apiClient } from './support/http.js';
import { registerUser, TestEnvironment } from './support/server.js';
import { SseClient } from './support/sse.js';
import { waitUntil } from './support/wait.js';

// CI installs bubblewrap (.ci/run): there a missing sandbox is a failure, not a skip.
const BWRAP_AVAILABLE = existsSync('/usr/bin/bwrap') || process.env.CI === 'true';
const LIMITS = '[limits]\nrequests_per_minute = 100000';
const ALLOW_SHELL = '[tools.policy]\n"shell" = "allow"';

/** What an attacker inside the sandbox would love to find: the server's own environment. */
const SECRETS = {
  TOKENDANCE_AUTH_JWT_SECRET: `jwt-${randomBytes(24).toString('hex')}`,
  OPENAI_API_KEY: `sk-${randomBytes(16).toString('hex')}`,
  ANTHROPIC_API_KEY: `sk-ant-${randomBytes(16).toString('hex')}`,
};

/** A server whose process (and config) carries secrets in its environment, with a fake model to script tool calls. */
async function startShellServer(toml: string, options: { bwrapPath?: string; agentToml?: string } = {}) {
  const fake = await startFakeOpenAI();
  const environment = await TestEnvironment.create();
  const agent = `[agent]\nmax_iterations = 4\n${options.agentToml ?? ''}`;
  const path = environment.writeConfig(`${fakeProviderToml(fake.baseUrl)}\n${LIMITS}\n${agent}\n${toml}`);
  const { config } = loadConfig({ path, env: SECRETS });
  const running = await startServer({ config, logger: false, env: SECRETS, bwrapPath: options.bwrapPath });
  const api = apiClient(running.url);
  const user = await registerUser(api);
  const dataDir = join(environment.dir, 'data');
  const newSession = async (): Promise<string> =>
    (await api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;
  const send = (sessionId: string, content = 'go') =>
    SseClient.open(`${running.url}/api/v1/chat/${sessionId}/message`, { token: user.token, method: 'POST', body: { content } });
  /** Runs one turn of tool calls and returns their results once the run has ended. */
  const runTools = async (sessionId: string, calls: Array<{ name: string; arguments: Record<string, unknown> }>) => {
    fake.enqueue({ toolCalls: calls }, { text: 'done' });
    const stream = await send(sessionId);
    await stream.waitForEnd(30_000);
    return stream.events.filter((event) => event.event === 'tool_result').map((event) => event.data);
  };
  const shell = async (sessionId: string, command: string) => (await runTools(sessionId, [{ name: 'shell', arguments: { command } }]))[0]!;
  return {
    fake,
    api,
    user,
    url: running.url,
    dataDir,
    workspaceOf: (sessionId: string) => join(dataDir, 'workspaces', sessionId),
    newSession,
    send,
    runTools,
    shell,
    close: async () => {
      await running.close();
      await environment.destroy();
      await fake.close();
    },
  };
}

type ShellServer = Awaited<ReturnType<typeof startShellServer>>;

/** Command lines (NUL-separated argv joined by spaces) of live host processes that contain `marker`. */
function processesWith(marker: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (commandLine.includes(marker)) found.push(`${entry}: ${commandLine}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** A loopback HTTP server that answers with a token, to tell whether the sandbox reached it. */
async function startLoopbackTarget() {
  const token = `reached-${randomBytes(8).toString('hex')}`;
  let hits = 0;
  const server: Server = createServer((_request, response) => {
    hits++;
    response.end(token);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    token,
    hits: () => hits,
    // bash's /dev/tcp needs no curl or wget in the image.
    command: `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port} && printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3 && cat <&3'`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

before(() => {
  // The server process's own environment: a command that inherited it would show these.
  Object.assign(process.env, SECRETS);
});
after(() => {
  for (const name of Object.keys(SECRETS)) delete process.env[name];
});

describe('shell in the bubblewrap sandbox', { skip: !BWRAP_AVAILABLE && 'bubblewrap is not installed' }, () => {
  let server: ShellServer;
  before(async () => {
    server = await startShellServer(`${ALLOW_SHELL}\n[tools.shell]\ntimeout_s = 3\noutput_max_chars = 1000`);
  });
  after(() => server.close());

  test('runs in the workspace, sees files written there; output and exit code come back; non-zero exit is a failure', async () => {
    const sessionId = await server.newSession();
    const results = await server.runTools(sessionId, [
      { name: 'file_write', arguments: { path: 'notes/hello.txt', content: 'hello from file_write' } },
      { name: 'shell', arguments: { command: 'cat notes/hello.txt; echo; echo to-stderr >&2; pwd; echo made > made.txt' } },
      { name: 'shell', arguments: { command: 'echo failing; exit 7' } },
    ]);
    assert.equal(results.length, 3);
    const [, ok, failed] = results;
    assert.equal(ok.tool, 'shell');
    assert.equal(ok.success, true, ok.result);
    assert.match(ok.result, /^\[exit code 0\]\n/);
    assert.match(ok.result, /hello from file_write\nto-stderr\n\/workspace\n/);
    assert.equal(failed.success, false);
    assert.match(failed.result, /^\[exit code 7\]\nfailing/);
    // The command's own write landed in the session workspace on the host.
    assert.equal(readFileSync(join(server.workspaceOf(sessionId), 'made.txt'), 'utf8'), 'made\n');

    const request = server.fake.requests.at(-1)!.body as { tools: Array<{ function: { name: string; description: string } }> };
    const spec = request.tools.find((tool) => tool.function.name === 'shell')!;
    assert.match(spec.function.description, /network access is disabled/);
  });

  test("cannot reach another session's workspace, the data directory, the database or the host's files", async () => {
    const victim = await server.newSession();
    const secret = `victim-secret-${randomBytes(8).toString('hex')}`;
    const [written] = await server.runTools(victim, [{ name: 'file_write', arguments: { path: 'secret.txt', content: secret } }]);
    assert.equal(written.success, true);
    const [own] = await server.runTools(victim, [{ name: 'shell', arguments: { command: 'cat secret.txt' } }]);
    assert.match(own.result, new RegExp(secret), 'the owner sees its own file');

    const planted = `planted-${randomBytes(8).toString('hex')}`;
    writeFileSync(join(server.dataDir, 'planted.txt'), planted);
    const attacker = await server.newSession();
    const targets = [
      join(server.workspaceOf(victim), 'secret.txt'),
      `../${victim}/secret.txt`,
      `../../workspaces/${victim}/secret.txt`,
      join(server.dataDir, 'planted.txt'),
      join(server.dataDir, 'tokendance.db'),
      join(server.dataDir, 'jwt_secret'),
    ];
    const command = [
      ...targets.map((target) => `cat '${target}'; echo "rc=$?"`),
      `ls '${server.dataDir}' '${join(server.dataDir, 'workspaces')}' ..; echo "rc=$?"`,
      // Everything mounted at the top level, to compare with what the sandbox should contain.
      'echo "root: $(ls -A / | tr "\\n" " ")"',
    ].join('\n');
    const result = await server.shell(attacker, command);
    assert.doesNotMatch(result.result, new RegExp(secret));
    assert.doesNotMatch(result.result, new RegExp(planted));
    assert.doesNotMatch(result.result, /SQLite format/);
    const codes = [...result.result.matchAll(/rc=(\d+)/g)].map((match) => Number(match[1]));
    assert.equal(codes.length, targets.length + 1);
    assert.ok(codes.every((code) => code !== 0), result.result);
    const root = /^root: (.*)$/m.exec(result.result)![1]!.trim().split(' ');
    const expected = ['bin', 'dev', 'etc', 'lib', 'lib32', 'lib64', 'libx32', 'proc', 'sbin', 'tmp', 'usr', 'workspace'];
    assert.deepEqual(root.filter((name) => !expected.includes(name)), [], `unexpected top-level entries: ${root.join(' ')}`);
    assert.doesNotMatch(result.result, new RegExp(attacker), 'the host path and session id stay hidden');
  });

  test('cannot see the server environment, its processes, or write system directories; /tmp is private', async () => {
    const sessionId = await server.newSession();
    const marker = `tmp-marker-${randomBytes(6).toString('hex')}`;
    const result = await server.shell(
      sessionId,
      [
        'env',
        "tr '\\0' '\\n' < /proc/1/environ",
        `cat /proc/${process.pid}/environ; echo "host-pid rc=$?"`,
        'echo "procs=$(ls /proc | grep -c "^[0-9]")"',
        'touch /usr/pwned /etc/pwned; echo "touch rc=$?"',
        'mount -o remount,rw,bind /usr 2>/dev/null; echo "remount rc=$?"',
        `echo x > /tmp/${marker}; echo "tmp rc=$?"`,
      ].join('\n'),
    );
    for (const [name, value] of Object.entries(SECRETS)) {
      assert.ok(!result.result.includes(value), `${name}'s value leaked`);
      assert.ok(!result.result.includes(name), `${name} leaked`);
    }
    assert.match(result.result, /^PATH=\/usr\/local\/sbin:/m);
    assert.match(result.result, /^LANG=C\.UTF-8$/m);
    assert.match(result.result, /host-pid rc=[1-9]/);
    const processCount = Number(/procs=(\d+)/.exec(result.result)?.[1]);
    assert.ok(processCount > 0 && processCount < 10, `only the sandbox's own processes are visible: ${processCount}`);
    assert.match(result.result, /touch rc=[1-9]/);
    assert.match(result.result, /remount rc=[1-9]/);
    assert.ok(!existsSync('/usr/pwned') && !existsSync('/etc/pwned'));
    assert.match(result.result, /tmp rc=0/);
    assert.ok(!existsSync(`/tmp/${marker}`), 'the sandbox /tmp is not the host /tmp');
  });

  test('no network by default: a loopback server is unreachable', async () => {
    const target = await startLoopbackTarget();
    try {
      const result = await server.shell(await server.newSession(), target.command);
      assert.equal(result.success, false);
      assert.doesNotMatch(result.result, new RegExp(target.token));
      assert.equal(target.hits(), 0);
    } finally {
      await target.close();
    }
  });

  test('a timeout kills the whole process tree, background jobs included', async () => {
    const marker = `sleep 100.${randomBytes(3).readUIntBE(0, 3)}`;
    const sessionId = await server.newSession();
    server.fake.enqueue({ toolCalls: [{ name: 'shell', arguments: { command: `${marker} & ${marker} & setsid ${marker} & ${marker}` } }] }, { text: 'done' });
    const stream = await server.send(sessionId);
    await stream.waitForEvent('tool_call');
    await waitUntil(() => processesWith(marker).length >= 4, 2000, 'the sleeps to start');
    await stream.waitForEvent('tool_result', 10_000);
    const result = stream.events.find((event) => event.event === 'tool_result')!.data;
    assert.equal(result.success, false);
    assert.match(result.result, /timed out after 3 s/);
    assert.ok(result.duration_ms >= 2900 && result.duration_ms < 8000, `duration ${result.duration_ms}`);
    await waitUntil(() => processesWith(marker).length === 0, 1000, 'no sleep to remain').catch(() => {
      assert.deepEqual(processesWith(marker), []);
    });
    await stream.waitForEnd();
  });

  test('stop during a running command ends the run with CANCELLED within 2 s and kills the command', async () => {
    const marker = `sleep 30.${randomBytes(3).readUIntBE(0, 3)}`;
    const sessionId = await server.newSession();
    server.fake.enqueue({ toolCalls: [{ name: 'shell', arguments: { command: `${marker} & ${marker}` } }] });
    const stream = await server.send(sessionId);
    await stream.waitForEvent('tool_call');
    await waitUntil(() => processesWith(marker).length >= 2, 2000, 'the sleeps to start');
    const started = Date.now();
    const stop = await server.api('POST', `/api/v1/chat/${sessionId}/stop`, { token: server.user.token });
    assert.deepEqual(stop.body, { stopped: true });
    await stream.waitForEvent('error', 2000);
    assert.ok(Date.now() - started < 2000);
    assert.equal(stream.events.find((event) => event.event === 'error')!.data.code, 'CANCELLED');
    await waitUntil(() => processesWith(marker).length === 0, 1000, 'the sleeps to be killed').catch(() => {
      assert.deepEqual(processesWith(marker), []);
    });
    await stream.waitForEnd();
  });

  test('output over the cap is cut in the middle with a note; binary output is safe to store', async () => {
    const result = await server.shell(await server.newSession(), "seq 1 100000; printf 'a\\0b\\377\\n'");
    assert.equal(result.success, true);
    assert.match(result.result, /^\[exit code 0\]\n1\n2\n3\n/);
    assert.match(result.result, /\[output truncated: 588900 bytes in all, \d+ bytes omitted here; showing the first 500 and the last 500 characters\]/);
    assert.match(result.result, /99999\n100000\na\uFFFDb\uFFFD\n$/);
    assert.ok(result.result.length < 1300, `length ${result.result.length}`);
  });
});

describe('shell with network = true and a tool deadline shorter than its own timeout', { skip: !BWRAP_AVAILABLE && 'bubblewrap is not installed' }, () => {
  let server: ShellServer;
  before(async () => {
    server = await startShellServer(`${ALLOW_SHELL}\n[tools.shell]\nnetwork = true\ntimeout_s = 60`, { agentToml: 'tool_timeout_s = 1.5' });
  });
  after(() => server.close());

  test('reaches a loopback server', async () => {
    const target = await startLoopbackTarget();
    try {
      const result = await server.shell(await server.newSession(), target.command);
      assert.equal(result.success, true, result.result);
      assert.match(result.result, new RegExp(target.token));
      assert.equal(target.hits(), 1);
    } finally {
      await target.close();
    }
  });

  test('the tool deadline (agent.tool_timeout_s) also kills the whole tree', async () => {
    const marker = `sleep 100.${randomBytes(3).readUIntBE(0, 3)}`;
    const result = await server.shell(await server.newSession(), `${marker} & ${marker}`);
    assert.equal(result.success, false);
    assert.match(result.result, /timed out after 1\.5s/);
    await waitUntil(() => processesWith(marker).length === 0, 1000, 'no sleep to remain').catch(() => {
      assert.deepEqual(processesWith(marker), []);
    });
  });
});

describe('without a working bubblewrap', () => {
  const offeredTools = (server: ShellServer) =>
    ((server.fake.requests.at(-1)!.body as { tools?: Array<{ function: { name: string } }> }).tools ?? []).map((tool) => tool.function.name);

  test('sandbox = "bubblewrap" (the default): shell is not offered to the model', async () => {
    const server = await startShellServer(ALLOW_SHELL, { bwrapPath: '/nonexistent/bwrap' });
    try {
      const stream = await server.send(await server.newSession(), 'hello');
      await stream.waitForEnd();
      const names = offeredTools(server);
      assert.ok(names.includes('file_write'), `tools were offered: ${names.join(',')}`);
      assert.ok(!names.includes('shell'), `shell must not be offered: ${names.join(',')}`);
    } finally {
      await server.close();
    }
  });

  test('sandbox = "none": shell is offered and runs in the workspace with a cleared environment; timeouts kill the process group', async () => {
    const server = await startShellServer(`${ALLOW_SHELL}\n[tools.shell]\nsandbox = "none"\ntimeout_s = 1`, { bwrapPath: '/nonexistent/bwrap' });
    try {
      const sessionId = await server.newSession();
      const result = await server.shell(sessionId, 'pwd; env; echo x > here.txt');
      assert.ok(offeredTools(server).includes('shell'));
      assert.equal(result.success, true, result.result);
      assert.ok(result.result.includes(`\n${server.workspaceOf(sessionId)}\n`), result.result);
      for (const [name, value] of Object.entries(SECRETS)) {
        assert.ok(!result.result.includes(value) && !result.result.includes(name), `${name} leaked`);
      }
      assert.ok(existsSync(join(server.workspaceOf(sessionId), 'here.txt')));

      const marker = `sleep 100.${randomBytes(3).readUIntBE(0, 3)}`;
      const timedOut = await server.shell(sessionId, `${marker} & ${marker}`);
      assert.match(timedOut.result, /timed out after 1 s/);
      await waitUntil(() => processesWith(marker).length === 0, 1000, 'no sleep to remain').catch(() => {
        assert.deepEqual(processesWith(marker), []);
      });
    } finally {
      await server.close();
    }
  });
});
