import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI_PATH, runCli } from './support/cli.js';
import { startFakeModelServer } from './support/fake-model-server.js';
import { registerUser } from './support/server.js';
import { SseClient } from './support/sse.js';

// Built CLI: run `npx tsc -p tsconfig.json` before this file.
const LIMITS = '[limits]\nrequests_per_minute = 100000\nsse_concurrent = 50\n[agent]\napproval_timeout_s = 600';
/** Select Graphic Rendition: colour and style codes. */
const SGR = /\x1b\[[\d;]*m/;

interface Ndjson {
  event: string;
  id: number;
  data: any;
}

const parseNdjson = (stdout: string): Ndjson[] =>
  stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const value = JSON.parse(line);
      assert.deepEqual(Object.keys(value), ['event', 'id', 'data'], line);
      return value as Ndjson;
    });

/** A CLI process we can signal and write to, with its output collected as it comes. */
class CliProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (chunk) => (this.stdout += chunk));
    child.stderr?.on('data', (chunk) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  async waitForOutput(pattern: RegExp, timeoutMs = 15_000): Promise<void> {
    await this.waitUntil(() => pattern.test(this.stdout + this.stderr), `no ${pattern}`, timeoutMs);
  }

  /** Waits until stdout holds `count` NDJSON lines of `event`. */
  async waitForEvents(event: string, count: number, timeoutMs = 15_000): Promise<void> {
    const marker = `"event":${JSON.stringify(event)}`;
    await this.waitUntil(() => this.stdout.split(marker).length - 1 >= count, `fewer than ${count} ${event} events`, timeoutMs);
  }

  private async waitUntil(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`${what} in time; got:\n${this.stdout}\n${this.stderr}`);
      await sleep(20);
    }
  }
}

/** A TCP relay in front of the server whose connections the test can cut, like a flaky network. */
async function startRelay(target: string) {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let connections = 0;
  const relay = createServer((client) => {
    connections++;
    const upstream = connect(Number(port), hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`,
    cut: () => sockets.forEach((socket) => socket.destroy()),
    connections: () => connections,
    close: () => new Promise<void>((resolve) => relay.close(() => resolve())),
  };
}

describe('tokendance run (the terminal client)', () => {
  let fixture: Awaited<ReturnType<typeof startFakeModelServer>>;
  before(async () => {
    fixture = await startFakeModelServer(LIMITS);
  });
  after(() => fixture.shutdown());

  const run = (args: string[], env: Record<string, string> = {}) =>
    runCli(['run', ...args, '--server', fixture.server.url], { cwd: fixture.server.environment.dir, env, timeoutMs: 30_000 });
  const withToken = (args: string[], env: Record<string, string> = {}) => run(args, { TOKENDANCE_TOKEN: fixture.user.token, ...env });
  const workspaceDir = (sessionId: string) => join(fixture.server.environment.dir, 'data', 'workspaces', sessionId);
  const sessionOf = (stderr: string) => /session:? ([0-9a-f-]{36})/.exec(stderr)?.[1];
  const spawnCli = (args: string[], env: Record<string, string>, server = fixture.server.url) =>
    new CliProcess(
      spawn(process.execPath, [CLI_PATH, 'run', ...args, '--server', server], {
        cwd: fixture.server.environment.dir,
        env: { PATH: process.env.PATH, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );

  test('--json (not a terminal): NDJSON of the session-stream events, the same as the session stream replays', async () => {
    const { fake, server, user } = fixture;
    fake.enqueue({ toolCalls: [{ name: 'file_write', arguments: { path: 'hello.txt', content: 'hi' } }] }, { text: 'Wrote hello.txt for you.' });
    const result = await withToken(['write hello.txt', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const events = parseNdjson(result.stdout);
    const names = events.map((event) => event.event);
    assert.ok(names.indexOf('tool_call') >= 0 && names.indexOf('tool_call') < names.indexOf('tool_result'), names.join(','));
    assert.equal(names.at(-1), 'done');
    assert.equal(events.find((event) => event.event === 'tool_call')!.data.tool, 'file_write');
    assert.equal(events.at(-1)!.data.content, 'Wrote hello.txt for you.');
    assert.ok(events.every((event, index) => index === 0 || event.id > events[index - 1]!.id), 'cursors increase');
    // Stdout holds only NDJSON; the session id goes to stderr.
    const sessionId = sessionOf(result.stderr)!;
    assert.ok(sessionId, result.stderr);
    const session = await server.api('GET', `/api/v1/sessions/${sessionId}`, { token: user.token });
    assert.equal(session.body.workspace_id, user.workspaceId, 'a new session in the default workspace');
    assert.equal(session.body.title, 'write hello.txt');
    const replay = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream?last_event_id=0`, { token: user.token });
    await replay.waitFor((seen) => seen.some((event) => event.event === 'done'));
    replay.close();
    // The CLI stops at `done`; the session stream goes on (the run's closing status, later runs).
    const throughDone = replay.events.slice(0, replay.events.findIndex((event) => event.event === 'done') + 1);
    assert.deepEqual(
      events.map((event) => [event.id, event.event, event.data]),
      throughDone.map((event) => [Number(event.id), event.event, event.data]),
    );
  });

  test('local mode (no token): the Service API task, renamed to the same events', async () => {
    const { fake, server } = fixture;
    fake.enqueue({ toolCalls: [{ name: 'file_write', arguments: { path: 'local.txt', content: 'x' } }] }, { text: 'Done locally.' });
    const result = await run(['make local.txt', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const events = parseNdjson(result.stdout);
    const call = events.find((event) => event.event === 'tool_call')!;
    assert.deepEqual([call.data.tool, call.data.args], ['file_write', { path: 'local.txt', content: 'x' }]);
    const toolResult = events.find((event) => event.event === 'tool_result')!;
    assert.equal(toolResult.data.success, true);
    assert.equal(toolResult.data.call_id, call.data.call_id);
    assert.equal(events.at(-1)!.event, 'done');
    assert.equal(events.at(-1)!.data.content, 'Done locally.');
    assert.equal(events.filter((event) => event.event === 'content').map((event) => event.data.text).join(''), 'Done locally.');
    const taskId = /task: (\S+)/.exec(result.stderr)![1]!;
    assert.ok(events.every((event) => event.data.run_id === taskId), 'only this task');
    const task = await server.api('GET', `/api/tasks/${taskId}`);
    assert.equal(task.body.data.status, 'completed');
  });

  test('human output: the answer alone on stdout, tool calls and the summary on stderr, no colour off a terminal', async () => {
    fixture.fake.enqueue({ toolCalls: [{ name: 'file_write', arguments: { path: 'a.txt', content: 'a' } }] }, { text: 'All set.' });
    const result = await withToken(['write a.txt']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'All set.\n');
    assert.match(result.stderr, /file_write path="a\.txt"/);
    assert.match(result.stderr, /done · 2 model calls/);
    assert.doesNotMatch(result.stdout + result.stderr, /\x1b/, 'no escape codes when not a terminal');
  });

  test('--approve all approves a file_delete: the file is gone', async () => {
    const { fake, server, user } = fixture;
    fake.enqueue(
      { toolCalls: [{ name: 'file_write', arguments: { path: 'notes.txt', content: 'hello' } }] },
      { toolCalls: [{ name: 'file_delete', arguments: { path: 'notes.txt' } }] },
      { text: 'Deleted.' },
    );
    const result = await withToken(['write notes.txt then delete it', '--approve', 'all', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const events = parseNdjson(result.stdout);
    const required = events.find((event) => event.event === 'confirm_required')!;
    assert.equal(required.data.tool, 'file_delete');
    assert.equal(events.find((event) => event.event === 'confirm_resolved')!.data.approved, true);
    assert.equal(events.filter((event) => event.event === 'tool_result').at(-1)!.data.success, true);
    assert.equal(existsSync(join(workspaceDir(sessionOf(result.stderr)!), 'notes.txt')), false);
    const details = await server.api('GET', `/api/v1/hitl/${required.data.action_id}`, { token: user.token });
    assert.equal(details.body.status, 'approved');
    assert.match(result.stderr, /approving file_delete/);
  });

  test('--approve none rejects: the file stays and the model reads the rejection', async () => {
    const { fake, server, user } = fixture;
    fake.enqueue(
      { toolCalls: [{ name: 'file_write', arguments: { path: 'keep.txt', content: 'precious' } }] },
      { toolCalls: [{ name: 'file_delete', arguments: { path: 'keep.txt' } }] },
      { text: 'Kept it.' },
    );
    const result = await withToken(['delete keep.txt', '--approve', 'none', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const events = parseNdjson(result.stdout);
    const required = events.find((event) => event.event === 'confirm_required')!;
    assert.equal(events.find((event) => event.event === 'confirm_resolved')!.data.approved, false);
    assert.ok(existsSync(join(workspaceDir(sessionOf(result.stderr)!), 'keep.txt')), 'the file stays');
    const details = await server.api('GET', `/api/v1/hitl/${required.data.action_id}`, { token: user.token });
    assert.equal(details.body.status, 'rejected');
    const lastToolMessage = (fake.requests.at(-1)!.body as any).messages.filter((message: any) => message.role === 'tool').at(-1).content;
    assert.match(lastToolMessage, /rejected by the user/i);
    assert.match(lastToolMessage, /non-interactively/);
  });

  test('--approve none in local mode answers through the Service API', async () => {
    fixture.fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'nothing.txt' } }] }, { text: 'Fine.' });
    const result = await run(['delete nothing.txt', '--approve', 'none', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const events = parseNdjson(result.stdout);
    const required = events.find((event) => event.event === 'confirm_required')!;
    assert.equal(required.data.risk_level, 'high', 'details come from GET /api/approvals');
    assert.equal(events.find((event) => event.event === 'confirm_resolved')!.data.approved, false);
    assert.equal(events.at(-1)!.event, 'done');
  });

  test('a failed run exits 1 with the error; a model refusal is not retried forever', async () => {
    fixture.fake.enqueue({ status: 400 });
    const json = await withToken(['this fails', '--json']);
    assert.equal(json.code, 1, json.stderr);
    const events = parseNdjson(json.stdout);
    assert.equal(events.at(-1)!.event, 'error');
    assert.ok(events.at(-1)!.data.message);
    fixture.fake.enqueue({ status: 400 });
    const human = await withToken(['this fails too']);
    assert.equal(human.code, 1);
    assert.match(human.stderr, /error/);
    fixture.fake.enqueue({ status: 400 });
    const local = await run(['and locally']);
    assert.equal(local.code, 1, local.stderr);
  });

  test('--session continues a session: the model sees the earlier turn; other users\' sessions are refused', async () => {
    const { fake, server, user } = fixture;
    fake.enqueue({ text: 'The secret word is pineapple.' });
    const first = await withToken(['remember a secret word']);
    assert.equal(first.code, 0, first.stderr);
    const sessionId = sessionOf(first.stderr)!;
    const before = await server.api('GET', `/api/v1/sessions?workspace_id=${user.workspaceId}&limit=100`, { token: user.token });
    fake.enqueue({ text: 'It was pineapple.' });
    const second = await withToken(['what was the word?', '--session', sessionId]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, 'It was pineapple.\n');
    assert.equal(sessionOf(second.stderr), sessionId);
    const contents = (fake.requests.at(-1)!.body as any).messages.map((message: any) => message.content);
    assert.ok(contents.includes('The secret word is pineapple.'), 'the earlier answer is in the conversation');
    const afterList = await server.api('GET', `/api/v1/sessions?workspace_id=${user.workspaceId}&limit=100`, { token: user.token });
    assert.equal(afterList.body.total, before.body.total, 'no new session');

    const stranger = await registerUser(server.api);
    const refused = await run(['hijack', '--session', sessionId], { TOKENDANCE_TOKEN: stranger.token });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /403/);
    const unknown = await withToken(['x', '--session', '00000000-0000-4000-8000-000000000000']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /404/);
  });

  test('usage errors exit 2; an unreachable server or a bad token exit 1 with a hint', async () => {
    const badPolicy = await withToken(['x', '--approve', 'sometimes']);
    assert.equal(badPolicy.code, 2);
    assert.match(badPolicy.stderr, /all, none/);
    assert.equal((await withToken(['   '])).code, 2);
    assert.equal((await run(['x', '--session', 'abc'])).code, 2, '--session needs a token');
    const badUrl = await runCli(['run', 'x', '--server', 'not a url'], { cwd: fixture.server.environment.dir });
    assert.equal(badUrl.code, 2);
    const ftp = await runCli(['run', 'x', '--server', 'ftp://127.0.0.1/'], { cwd: fixture.server.environment.dir });
    assert.equal(ftp.code, 2);
    const missing = await runCli(['run'], { cwd: fixture.server.environment.dir });
    assert.equal(missing.code, 2);
    const unreachable = await runCli(['run', 'x', '--server', 'http://127.0.0.1:9'], { cwd: fixture.server.environment.dir });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach the server/);
    const badToken = await run(['x', '--token', 'not-a-token']);
    assert.equal(badToken.code, 1);
    assert.match(badToken.stderr, /401/);
    const help = await runCli(['run', '--help'], { cwd: fixture.server.environment.dir });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit codes: 0 done, 1 .*, 2 .*, 130 /);
  });

  test('on a terminal (pseudo-terminal via script): the approval is asked; "n" plus feedback rejects it on the server', async () => {
    const { fake, server, user } = fixture;
    fake.enqueue(
      { toolCalls: [{ name: 'file_write', arguments: { path: 'tty.txt', content: 'keep me' } }] },
      { toolCalls: [{ name: 'file_delete', arguments: { path: 'tty.txt' } }] },
      { text: 'I left tty.txt alone.' },
    );
    const command = `'${process.execPath}' '${CLI_PATH}' run 'write then delete tty.txt' --server ${fixture.server.url}`;
    const cli = new CliProcess(
      spawn('script', ['-qfec', command, '/dev/null'], {
        cwd: fixture.server.environment.dir,
        env: { PATH: process.env.PATH, TERM: 'xterm', TOKENDANCE_TOKEN: user.token },
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    await cli.waitForOutput(/Approve\? \[y\/N\]/);
    assert.match(cli.stdout, /Approval needed: .*file_delete.*high risk/);
    assert.match(cli.stdout, /Delete file tty\.txt/);
    cli.child.stdin!.write('n\n');
    await cli.waitForOutput(/Feedback for the model/);
    cli.child.stdin!.write('Keep it, it is a log\n');
    const code = await cli.exited;
    cli.child.stdin!.end();
    assert.equal(code, 0, cli.stdout);
    assert.match(cli.stdout, SGR, 'colours on a terminal');
    assert.match(cli.stdout, /I left tty\.txt alone\./);
    assert.match(cli.stdout, /rejected/);
    const sessionId = /session ([0-9a-f-]{36})/.exec(cli.stdout)![1]!;
    assert.ok(existsSync(join(workspaceDir(sessionId), 'tty.txt')));
    const pending = await server.api('GET', `/api/v1/sessions/${sessionId}/messages`, { token: user.token });
    const toolMessage = pending.body.items.filter((message: any) => message.role === 'tool').at(-1);
    assert.match(toolMessage.content, /Keep it, it is a log/);
    const stream = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream?last_event_id=0`, { token: user.token });
    await stream.waitFor((events) => events.some((event) => event.event === 'done'));
    stream.close();
    const actionId = stream.events.find((event) => event.event === 'confirm_required')!.data.action_id;
    const details = await server.api('GET', `/api/v1/hitl/${actionId}`, { token: user.token });
    assert.equal(details.body.status, 'rejected');
    assert.equal(details.body.user_feedback, 'Keep it, it is a log');
  });

  test('on a terminal with NO_COLOR: no colour; control sequences in model output never reach the terminal', async () => {
    fixture.fake.enqueue({ text: 'safe \u001b]0;pwned\u0007 text \u001b[2J end' });
    const command = `'${process.execPath}' '${CLI_PATH}' run 'say something' --server ${fixture.server.url}`;
    const cli = new CliProcess(
      spawn('script', ['-qfec', command, '/dev/null'], {
        cwd: fixture.server.environment.dir,
        env: { PATH: process.env.PATH, TERM: 'xterm', TOKENDANCE_TOKEN: fixture.user.token, NO_COLOR: '1' },
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    const code = await cli.exited;
    cli.child.stdin!.end();
    assert.equal(code, 0, cli.stdout);
    assert.doesNotMatch(cli.stdout, SGR);
    assert.match(cli.stdout, /safe \]0;pwned text \[2J end/);
    assert.ok(!cli.stdout.includes('\u001b]0;') && !cli.stdout.includes('\u0007') && !cli.stdout.includes('\u001b[2J'));
  });

  test('Ctrl-C stops the run on the server (CANCELLED) and exits 130', async () => {
    const { fake, server, user } = fixture;
    fake.enqueue({ tokens: 1000, tokenDelayMs: 25 });
    const cli = spawnCli(['stream slowly', '--json'], { TOKENDANCE_TOKEN: user.token });
    await cli.waitForOutput(/"event":"content"/);
    // Meanwhile a second client cannot start a run on the busy session (and its failure stops nothing).
    const busy = await withToken(['meanwhile', '--session', sessionOf(cli.stderr)!]);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /409/);
    assert.equal(cli.child.exitCode, null, 'the first run goes on');
    cli.child.kill('SIGINT');
    const code = await cli.exited;
    assert.equal(code, 130, cli.stderr);
    assert.match(cli.stderr, /stopping the run/);
    const sessionId = sessionOf(cli.stderr)!;
    const session = await server.api('GET', `/api/v1/sessions/${sessionId}?include_details=true`, { token: user.token });
    assert.equal(session.body.current_run, null, 'no run left running');
    assert.equal(session.body.status, 'completed', 'a cancelled run leaves the session completed');
    const stream = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream?last_event_id=0`, { token: user.token });
    await stream.waitFor((events) => events.some((event) => event.event === 'error'));
    stream.close();
    assert.equal(stream.events.find((event) => event.event === 'error')!.data.code, 'CANCELLED');
  });

  test('Ctrl-C in local mode cancels exactly this task', async () => {
    const { fake, server } = fixture;
    fake.enqueue({ tokens: 400, tokenDelayMs: 25 });
    const cli = spawnCli(['stream slowly here', '--json'], {});
    await cli.waitForOutput(/"event":"content"/);
    cli.child.kill('SIGINT');
    assert.equal(await cli.exited, 130, cli.stderr);
    const taskId = /task: (\S+)/.exec(cli.stderr)![1]!;
    const task = await server.api('GET', `/api/tasks/${taskId}`);
    assert.equal(task.body.data.status, 'cancelled');
  });

  test('a file the user wrote beside the run is untouched by a rejected delete in local mode too', async () => {
    // The service session's workspace directory exists once a task ran there.
    const status = await fixture.server.api('GET', '/api/status');
    const dir = workspaceDir(status.body.data.session_id);
    writeFileSync(join(dir, 'mine.txt'), 'mine');
    fixture.fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'mine.txt' } }] }, { text: 'Left it.' });
    const result = await run(['delete mine.txt', '--approve', 'none']);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(existsSync(join(dir, 'mine.txt')));
    assert.equal(result.stdout, 'Left it.\n');
  });

  test('a dropped connection is resumed from the last cursor: no gap, no duplicate', async () => {
    const { fake, server, user } = fixture;
    const relay = await startRelay(server.url);
    try {
      fake.enqueue({ toolCalls: [{ name: 'file_write', arguments: { path: 'r.txt', content: 'r' } }] }, { tokens: 60, tokenDelayMs: 40, tokenText: 'w ' });
      const cli = spawnCli(['resume through cuts', '--json'], { TOKENDANCE_TOKEN: user.token }, relay.url);
      await cli.waitForOutput(/"event":"content"/);
      const before = relay.connections();
      relay.cut();
      await cli.waitForEvents('content', 25);
      relay.cut();
      assert.equal(await cli.exited, 0, cli.stderr);
      assert.ok(relay.connections() >= before + 2, 'it reconnected after each cut');
      const events = parseNdjson(cli.stdout);
      assert.equal(events.at(-1)!.event, 'done');
      const sessionId = sessionOf(cli.stderr)!;
      const replay = await SseClient.open(`${server.url}/api/v1/sessions/${sessionId}/stream?last_event_id=0`, { token: user.token });
      await replay.waitFor((seen) => seen.some((event) => event.event === 'done'));
      replay.close();
      const throughDone = replay.events.slice(0, replay.events.findIndex((event) => event.event === 'done') + 1);
      assert.deepEqual(
        events.map((event) => [event.id, event.event]),
        throughDone.map((event) => [Number(event.id), event.event]),
      );

      // The same through the Service API (local mode).
      fake.enqueue({ tokens: 60, tokenDelayMs: 40, tokenText: 'v ' });
      const local = spawnCli(['resume locally', '--json'], {}, relay.url);
      await local.waitForOutput(/"event":"content"/);
      const localBefore = relay.connections();
      relay.cut();
      await local.waitForEvents('content', 25);
      relay.cut();
      assert.equal(await local.exited, 0, local.stderr);
      assert.ok(relay.connections() >= localBefore + 2, 'it reconnected after each cut');
      const localEvents = parseNdjson(local.stdout);
      const ids = localEvents.map((event) => event.id);
      assert.deepEqual(ids, [...new Set(ids)].sort((a, b) => a - b), 'no duplicate, in order');
      const text = localEvents.filter((event) => event.event === 'content').map((event) => event.data.text).join('');
      assert.equal(text, 'v '.repeat(60));
      assert.equal(localEvents.at(-1)!.event, 'done');
    } finally {
      await relay.close();
    }
  });
});
