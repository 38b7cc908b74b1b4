import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeModelServer } from './support/fake-model-server.js';
import { registerUser } from './support/server.js';
import { SseClient } from './support/sse.js';
import { WsClient, type WsFrame } from './support/ws.js';

const LIMITS = '[limits]\nrequests_per_minute = 100000\nsse_concurrent = 50\n[agent]\napproval_timeout_s = 600';

type Fixture = Awaited<ReturnType<typeof startFakeModelServer>>;

/** A real 1×1 PNG. */
const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

const ticketFor = async (fixture: Fixture, token = fixture.user.token): Promise<string> => {
  const response = await fixture.server.api('POST', '/api/v1/auth/stream-ticket', { token });
  assert.equal(response.status, 201, response.text);
  return response.body.ticket;
};

const connect = async (fixture: Fixture, token = fixture.user.token): Promise<WsClient> => {
  const opened = await WsClient.open(fixture.server.url, { ticket: await ticketFor(fixture, token) });
  assert.ok(opened.client, `upgrade refused: ${opened.status} ${JSON.stringify(opened.body)}`);
  return opened.client;
};

/** The session stream's events after `cursor`, read over SSE until `until` holds. */
const sseEvents = async (fixture: Fixture, sessionId: string, cursor: number, until: (events: any[]) => boolean) => {
  const stream = await SseClient.open(`${fixture.server.url}/api/v1/sessions/${sessionId}/stream?last_event_id=${cursor}`, { token: fixture.user.token });
  await stream.waitFor(until);
  stream.close();
  return stream.events.map((event) => [Number(event.id), event.event, event.data]);
};

const asTuples = (frames: WsFrame[]) => frames.map((frame) => [frame.id, frame.event, frame.data]);
const finishedRuns = (events: Array<{ event?: string; data: any }>) => events.filter((event) => event.event === 'status' && event.data.success !== undefined).length;

describe('WebSocket /api/v1/ws', () => {
  let fixture: Fixture;
  before(async () => {
    fixture = await startFakeModelServer(LIMITS);
  });
  after(() => fixture.shutdown());

  test('auth: a single-use ticket (or a bearer token); missing, bad and spent tickets are refused before the upgrade', async () => {
    const missing = await WsClient.open(fixture.server.url);
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error_code, 'UNAUTHORIZED');
    const bad = await WsClient.open(fixture.server.url, { ticket: 'not-a-ticket' });
    assert.equal(bad.status, 401);
    const nul = await WsClient.open(fixture.server.url, { query: '?ticket=%00' });
    assert.ok(nul.status === 400 || nul.status === 401, String(nul.status));

    const ticket = await ticketFor(fixture);
    const first = await WsClient.open(fixture.server.url, { ticket });
    assert.ok(first.client);
    await first.client.ping();
    const spent = await WsClient.open(fixture.server.url, { ticket });
    assert.equal(spent.status, 401, 'a ticket works once');
    assert.match(spent.body.detail, /ticket/i);
    first.client.close();

    // Non-browser clients may send the bearer token instead; an invalid one is refused.
    const bearer = await WsClient.open(fixture.server.url, { token: fixture.user.token });
    assert.ok(bearer.client);
    bearer.client.close();
    const badBearer = await WsClient.open(fixture.server.url, { token: 'garbage' });
    assert.equal(badBearer.status, 401);
    // A ticket of one user beside another user's token is refused.
    const other = await registerUser(fixture.server.api);
    const mixed = await WsClient.open(fixture.server.url, { ticket: await ticketFor(fixture, other.token), token: fixture.user.token });
    assert.equal(mixed.status, 401);

    // Plain HTTP (no upgrade) gets a JSON error, not a hang.
    const plain = await fixture.server.api('GET', '/api/v1/ws', { token: fixture.user.token });
    assert.equal(plain.status, 400);
    assert.equal(plain.body.error_code, 'VALIDATION_ERROR');
    const anonymous = await fixture.server.api('GET', '/api/v1/ws');
    assert.equal(anonymous.status, 401);
  });

  test('subscribe with a cursor: replay then live with no gap and no duplicate (same as the SSE session stream)', async () => {
    const { fake, server, user } = fixture;
    const sessionId = await fixture.newSession();
    fake.enqueue({ toolCalls: [{ name: 'file_write', arguments: { path: 'a.txt', content: 'a' } }] }, { text: 'first answer' });
    const firstRun = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token: user.token, method: 'POST', body: { content: 'one' } });
    await firstRun.waitForEnd();
    // A second run streams slowly while the subscription replays the first: replay and live overlap.
    fake.enqueue({ tokens: 60, tokenDelayMs: 5, tokenText: 'x ' });
    const secondRun = await SseClient.open(`${server.url}/api/v1/chat/${sessionId}/message`, { token: user.token, method: 'POST', body: { content: 'two' } });
    const client = await connect(fixture);
    const ack = await client.request({ type: 'subscribe', session_id: sessionId, last_event_id: 2 });
    assert.deepEqual(ack, { type: 'ack', request_type: 'subscribe', session_id: sessionId });
    await client.waitFor(() => finishedRuns(client.events()) === 2);
    await secondRun.waitForEnd();
    const events = client.events(sessionId);
    assert.ok(events.every((frame) => frame.session_id === sessionId));
    assert.equal(events[0]!.id, 3, 'replay starts right after the cursor');
    const ids = events.map((frame) => frame.id);
    assert.deepEqual(ids, [...new Set(ids)].sort((a, b) => a - b), 'strictly increasing: no duplicate');
    const expected = await sseEvents(fixture, sessionId, 2, (seen) => finishedRuns(seen) === 2);
    assert.deepEqual(asTuples(events), expected);
    // Still live: a third run arrives on the same subscription.
    fake.enqueue({ text: 'third' });
    const third = await client.request({ type: 'message', session_id: sessionId, content: 'three' });
    assert.equal(third.type, 'ack');
    await client.waitFor(() => finishedRuns(client.events()) === 3);
    assert.equal(client.events(sessionId).filter((frame) => frame.event === 'done').at(-1)!.data.content, 'third');
    client.close();
  });

  test('subscribe without a cursor starts with a status snapshot; a cursor from the future gets reset', async () => {
    const sessionId = await fixture.newSession();
    const client = await connect(fixture);
    await client.request({ type: 'subscribe', session_id: sessionId });
    const status = await client.next((frame) => frame.event === 'status');
    assert.deepEqual(status.data, { session_status: 'created', run: null, pending_approvals: [] });
    assert.equal(status.session_id, sessionId);
    const other = await fixture.newSession();
    await client.request({ type: 'subscribe', session_id: other, last_event_id: 999_999 });
    const reset = await client.next((frame) => frame.event === 'reset');
    assert.equal(reset.session_id, other);
    // Unsubscribe ends the live part; the socket stays open.
    const gone = await client.request({ type: 'unsubscribe', session_id: other });
    assert.deepEqual(gone, { type: 'ack', request_type: 'unsubscribe', session_id: other, was_subscribed: true });
    fixture.fake.enqueue({ text: 'quiet' });
    await fixture.server.api('POST', `/api/v1/chat/${other}/message`, { token: fixture.user.token, body: { content: 'hello' } });
    await sleep(300);
    await client.ping();
    assert.equal(client.events(other).length, 1, 'only the reset frame: nothing after unsubscribing');
    client.close();
  });

  test('message starts a run: ack with its run_id, then its events through done; a second message while it runs is a 409 error frame', async () => {
    const sessionId = await fixture.newSession();
    fixture.fake.enqueue({ tokens: 20, tokenDelayMs: 20, tokenText: 'w ' });
    const client = await connect(fixture);
    const ack = await client.request({ type: 'message', session_id: sessionId, content: 'hello there' });
    assert.equal(ack.type, 'ack');
    assert.equal(ack.session_id, sessionId);
    assert.match(ack.run_id, /^[0-9a-f-]{36}$/);
    const busy = await client.request({ type: 'message', session_id: sessionId, content: 'again' });
    assert.deepEqual(
      { type: busy.type, code: busy.code, status: busy.status, request_type: busy.request_type, session_id: busy.session_id },
      { type: 'error', code: 'CONFLICT', status: 409, request_type: 'message', session_id: sessionId },
    );
    await client.next((frame) => frame.event === 'done');
    const events = client.events(sessionId);
    assert.equal(events[0]!.event, 'status');
    assert.equal(events[0]!.data.run_id, ack.run_id);
    assert.ok(events.filter((frame) => frame.event === 'content').length >= 20);
    assert.match(events.find((frame) => frame.event === 'done')!.data.content, /^(w ?){20}$/);
    assert.ok(events.every((frame) => frame.data.run_id === ack.run_id));
    client.close();
  });

  test('confirm answers an approval (file_delete): the file is gone; a second answer is a 409 error frame', async () => {
    const sessionId = await fixture.newSession();
    fixture.fake.enqueue(
      { toolCalls: [{ name: 'file_write', arguments: { path: 'bye.txt', content: 'x' } }] },
      { toolCalls: [{ name: 'file_delete', arguments: { path: 'bye.txt' } }] },
      { text: 'Deleted bye.txt.' },
    );
    const client = await connect(fixture);
    await client.request({ type: 'message', session_id: sessionId, content: 'write then delete bye.txt' });
    const required = await client.next((frame) => frame.event === 'confirm_required');
    assert.equal(required.data.tool, 'file_delete');
    const file = join(fixture.server.environment.dir, 'data', 'workspaces', sessionId, 'bye.txt');
    assert.ok(existsSync(file));
    const ack = await client.request({ type: 'confirm', action_id: required.data.action_id, confirmed: true, feedback: 'go ahead' });
    assert.equal(ack.type, 'ack');
    assert.equal(ack.request_id, required.data.action_id);
    assert.equal(ack.approved, true);
    assert.equal(ack.user_feedback, 'go ahead');
    const done = await client.next((frame) => frame.event === 'done');
    assert.equal(done.data.content, 'Deleted bye.txt.');
    assert.equal(existsSync(file), false);
    const again = await client.request({ type: 'confirm', action_id: required.data.action_id, confirmed: false });
    assert.equal(again.code, 'CONFLICT');
    const unknown = await client.request({ type: 'confirm', action_id: '00000000-0000-4000-8000-000000000000', confirmed: true });
    assert.equal(unknown.code, 'NOT_FOUND');
    client.close();
  });

  test('stop cancels the running run: ack {stopped:true}, then error CANCELLED; the session is completed', async () => {
    const sessionId = await fixture.newSession();
    fixture.fake.enqueue({ tokens: 500, tokenDelayMs: 20 });
    const client = await connect(fixture);
    await client.request({ type: 'message', session_id: sessionId, content: 'long story' });
    await client.next((frame) => frame.event === 'content');
    const stoppedAt = Date.now();
    const ack = await client.request({ type: 'stop', session_id: sessionId });
    assert.deepEqual(ack, { type: 'ack', request_type: 'stop', session_id: sessionId, stopped: true });
    const error = await client.next((frame) => frame.event === 'error');
    assert.equal(error.data.code, 'CANCELLED');
    assert.ok(Date.now() - stoppedAt < 2000, 'within 2 s');
    const session = await fixture.server.api('GET', `/api/v1/sessions/${sessionId}`, { token: fixture.user.token });
    assert.equal(session.body.status, 'completed');
    const idle = await client.request({ type: 'stop', session_id: sessionId });
    assert.equal(idle.stopped, false);
    client.close();
  });

  test("another user's session gives error frames (403), unknown ones 404; the connection stays usable", async () => {
    const sessionId = await fixture.newSession();
    const stranger = await registerUser(fixture.server.api);
    const client = await connect(fixture, stranger.token);
    for (const frame of [
      { type: 'subscribe', session_id: sessionId },
      { type: 'message', session_id: sessionId, content: 'let me in' },
      // A data: image would be stored while attachments are resolved: access is checked before that.
      { type: 'message', session_id: sessionId, content: 'let me in', attachments: [{ type: 'image', url: `data:image/png;base64,${PNG_BASE64}` }] },
      { type: 'stop', session_id: sessionId },
    ]) {
      const reply = await client.request(frame);
      assert.deepEqual([reply.type, reply.code, reply.status, reply.request_type], ['error', 'FORBIDDEN', 403, frame.type]);
    }
    const { db } = fixture.server.inProcess!.context.store.handle;
    assert.deepEqual(await db.selectFrom('files').select('id').where('user_id', '=', stranger.userId).execute(), [], 'the refused messages stored no upload');
    const unknown = await client.request({ type: 'subscribe', session_id: '00000000-0000-4000-8000-000000000000' });
    assert.equal(unknown.code, 'NOT_FOUND');
    // An approval of the owner's session cannot be answered by the stranger.
    fixture.fake.enqueue({ toolCalls: [{ name: 'file_delete', arguments: { path: 'x.txt' } }] }, { text: 'ok' });
    const owner = await connect(fixture);
    await owner.request({ type: 'message', session_id: sessionId, content: 'delete x.txt' });
    const required = await owner.next((frame) => frame.event === 'confirm_required');
    const refused = await client.request({ type: 'confirm', action_id: required.data.action_id, confirmed: true });
    assert.ok(['FORBIDDEN', 'NOT_FOUND'].includes(refused.code), refused.code);
    assert.equal(client.events().length, 0, 'the stranger saw no event of the session');
    await owner.request({ type: 'confirm', action_id: required.data.action_id, confirmed: false });
    await owner.next((frame) => frame.event === 'done');
    owner.close();
    client.close();
  });

  test('bad frames get error frames and never break the connection or the server; frames over 1 MB close it with 1009', async () => {
    const client = await connect(fixture);
    const sessionId = await fixture.newSession();
    const cases: Array<[string | Buffer, RegExp]> = [
      ['not json', /Malformed JSON/],
      ['[1,2]', /JSON object/],
      ['42', /JSON object/],
      ['null', /JSON object/],
      ['{}', /Unknown frame type \(missing\)/],
      ['{"type":"launch_missiles"}', /Unknown frame type \("launch_missiles"\)/],
      [JSON.stringify({ type: 'subscribe' }), /session_id/],
      [JSON.stringify({ type: 'subscribe', session_id: sessionId, last_event_id: -1 }), /last_event_id/],
      [JSON.stringify({ type: 'subscribe', session_id: sessionId, last_event_id: '5' }), /last_event_id/],
      [JSON.stringify({ type: 'message', session_id: sessionId, content: '' }), /content/],
      [JSON.stringify({ type: 'message', session_id: sessionId, content: 'x'.repeat(100_001) }), /content/],
      [JSON.stringify({ type: 'message', session_id: 's'.repeat(201), content: 'hi' }), /session_id/],
      [JSON.stringify({ type: 'message', session_id: sessionId, content: 'nul \u0000 here' }), /NUL/],
      [JSON.stringify({ type: 'confirm', action_id: 'a', confirmed: 'yes' }), /confirmed/],
      [JSON.stringify({ type: 'stop', session_id: 123 }), /session_id/],
      ['{"type":"subscribe","session_id":"x","__proto__":{"polluted":true}}', /Session not found/],
      [Buffer.from([1, 2, 3]), /binary/],
      ['{"type":"ping"'.repeat(1000), /Malformed JSON/],
    ];
    for (const [raw, message] of cases) {
      const error = await client.expectError(raw);
      assert.equal(error.type, 'error');
      assert.ok(error.code === 'VALIDATION_ERROR' || error.code === 'NOT_FOUND', `${String(raw).slice(0, 60)} → ${error.code}`);
      assert.match(error.message, message, String(raw).slice(0, 60));
    }
    const known = await client.expectError(JSON.stringify({ type: 'message', session_id: sessionId }));
    assert.equal(known.request_type, 'message', 'a known type is named in its error');
    assert.equal(({} as any).polluted, undefined, 'no prototype pollution');
    await client.ping();

    client.send('x'.repeat(1024 * 1024 + 1));
    const closed = await client.waitForClose();
    assert.equal(closed.code, 1009);
    const health = await fixture.server.api('GET', '/api/health');
    assert.equal(health.status, 200);
    const again = await connect(fixture);
    await again.ping();
    again.close();
  });

  test('a burst of frames is answered in order, each exactly once (the socket is read at the pace of the answers)', async () => {
    const client = await connect(fixture);
    const sessionId = await fixture.newSession();
    for (let index = 0; index < 300; index++) client.send(index % 3 === 2 ? { type: 'unsubscribe', session_id: `${sessionId}-${index}` } : { type: 'ping' });
    await client.waitFor((frames) => frames.length >= 300, 30_000);
    assert.equal(client.frames.length, 300);
    client.frames.forEach((frame, index) => {
      if (index % 3 === 2) assert.equal(frame.session_id, `${sessionId}-${index}`);
      else assert.equal(frame.type, 'pong');
    });
    await client.ping();
    client.close();
  });

  test('raw upgrade requests with garbage headers do not crash the server', async () => {
    const url = new URL(fixture.server.url);
    const status = await new Promise<number | string>((resolve) => {
      const request = httpRequest({
        host: url.hostname,
        port: url.port,
        path: '/api/v1/ws?ticket=abc',
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '99', 'sec-websocket-key': 'bad' },
      });
      request.on('upgrade', () => resolve('upgraded'));
      request.on('response', (response) => resolve(response.statusCode ?? 0));
      request.on('error', (error) => resolve(error.message));
      request.end();
    });
    assert.notEqual(status, 'upgraded');
    const health = await fixture.server.api('GET', '/api/health');
    assert.equal(health.status, 200);
  });
});

describe('WebSocket limits and keepalive', () => {
  let fixture: Fixture;
  before(async () => {
    fixture = await startFakeModelServer('[limits]\nrequests_per_minute = 100000\nsse_concurrent = 2\n[events]\nheartbeat_s = 0.3');
  });
  after(() => fixture.shutdown());

  test('WebSocket connections count in the concurrent-stream limit shared with SSE', async () => {
    const first = await connect(fixture);
    const second = await connect(fixture);
    // A ping is answered once the connection holds its slot.
    await first.ping();
    await second.ping();
    const third = await connect(fixture);
    const refused = await third.next((frame) => frame.type === 'error');
    assert.equal(refused.code, 'RATE_LIMITED');
    assert.equal(refused.status, 429);
    assert.equal((await third.waitForClose()).code, 1013);
    const sessionId = await fixture.newSession();
    const sse = await SseClient.open(`${fixture.server.url}/api/v1/sessions/${sessionId}/stream`, { token: fixture.user.token });
    assert.equal(sse.status, 429, 'SSE sees the WebSocket connections');
    first.close();
    await first.waitForClose();
    // The slot is released on close (asynchronously): an SSE stream fits again.
    let reopened: SseClient | undefined;
    for (let attempt = 0; attempt < 50; attempt++) {
      reopened = await SseClient.open(`${fixture.server.url}/api/v1/sessions/${sessionId}/stream`, { token: fixture.user.token });
      if (reopened.status === 200) break;
      await sleep(50);
    }
    assert.equal(reopened!.status, 200);
    reopened!.close();
    second.close();
    // Another user has their own slots.
    const other = await registerUser(fixture.server.api);
    const theirs = await connect(fixture, other.token);
    await theirs.ping();
    theirs.close();
  });

  test('the server pings; a client that never answers is cut off', async () => {
    const polite = await connect(fixture);
    await polite.waitFor(() => polite.pings >= 3, 5000);
    assert.equal(polite.closed, undefined, 'a client that answers pings stays');
    polite.close();
    const silent = await WsClient.open(fixture.server.url, { ticket: await ticketFor(fixture), ws: { autoPong: false } });
    assert.ok(silent.client);
    const closed = await silent.client.waitForClose(5000);
    assert.equal(closed.code, 1006, 'terminated without a close handshake');
  });
});

describe('WebSocket on shutdown', () => {
  test('clients get 1001 (going away) and the server stops promptly, even with a client that ignores the close handshake', async () => {
    const fixture = await startFakeModelServer(LIMITS);
    const sessionId = await fixture.newSession();
    const polite = await connect(fixture);
    await polite.request({ type: 'subscribe', session_id: sessionId });
    const rude = await connect(fixture);
    // Stop reading: the close frame is never answered.
    rude.socket.pause();
    const startedAt = Date.now();
    await fixture.shutdown();
    assert.ok(Date.now() - startedAt < 10_000, `shutdown took ${Date.now() - startedAt} ms`);
    const closed = await polite.waitForClose();
    assert.equal(closed.code, 1001);
    rude.socket.terminate();
  });
});
