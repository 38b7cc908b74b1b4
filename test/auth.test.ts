import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerUser, startTestServer } from './support/server.js';

describe('auth API', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.shutdown());

  test('register creates the user and a default workspace and returns tokens', async () => {
    const email = `Reg.${Date.now()}@Example.com`;
    const response = await server.api('POST', '/api/v1/auth/register', { body: { email, password: 'long enough pw', username: 'reg' } });
    assert.equal(response.status, 201);
    assert.equal(response.body.token_type, 'bearer');
    assert.equal(response.body.expires_in, 3600);
    assert.equal(response.body.user.email, email.toLowerCase());
    assert.equal(response.body.user.username, 'reg');
    assert.match(response.body.user.id, /^[0-9a-f-]{36}$/);
    assert.ok(response.body.refresh_token.length >= 32);
    assert.equal(response.body.user.password_hash, undefined);

    const workspaces = await server.api('GET', '/api/v1/workspaces', { token: response.body.access_token });
    assert.equal(workspaces.status, 200);
    assert.equal(workspaces.body.total, 1);
    assert.equal(workspaces.body.items[0].id, response.body.default_workspace_id);
    assert.equal(workspaces.body.items[0].role, 'owner');

    const again = await server.api('POST', '/api/v1/auth/register', { body: { email, password: 'another password' } });
    assert.equal(again.status, 409);
    assert.equal(again.body.error_code, 'CONFLICT');
  });

  test('register rejects a bad email and a short password', async () => {
    const badEmail = await server.api('POST', '/api/v1/auth/register', { body: { email: 'not-an-email', password: 'long enough pw' } });
    assert.equal(badEmail.status, 400);
    assert.equal(badEmail.body.error_code, 'VALIDATION_ERROR');
    assert.ok(badEmail.body.errors.some((e: { field: string }) => e.field === 'email'));
    const shortPassword = await server.api('POST', '/api/v1/auth/register', { body: { email: 'short@example.com', password: 'short' } });
    assert.equal(shortPassword.status, 400);
    assert.ok(shortPassword.body.errors.some((e: { field: string }) => e.field === 'password'));
  });

  test('login: right password works; wrong password and unknown email give the same 401', async () => {
    const user = await registerUser(server.api);
    const ok = await server.api('POST', '/api/v1/auth/login', { body: { email: user.email, password: user.password } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.default_workspace_id, user.workspaceId);
    assert.equal(ok.body.user.id, user.userId);

    const wrong = await server.api('POST', '/api/v1/auth/login', { body: { email: user.email, password: 'wrong password' } });
    const unknown = await server.api('POST', '/api/v1/auth/login', { body: { email: 'nobody@example.com', password: 'wrong password' } });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.equal(wrong.body.detail, unknown.body.detail);
    assert.equal(wrong.body.error_code, 'UNAUTHORIZED');
  });

  test('me requires a valid bearer token', async () => {
    const user = await registerUser(server.api);
    const me = await server.api('GET', '/api/v1/auth/me', { token: user.token });
    assert.equal(me.status, 200);
    assert.equal(me.body.id, user.userId);
    assert.equal(me.body.email, user.email);

    assert.equal((await server.api('GET', '/api/v1/auth/me')).status, 401);
    assert.equal((await server.api('GET', '/api/v1/auth/me', { token: 'garbage' })).status, 401);
    const basic = await server.api('GET', '/api/v1/auth/me', { headers: { authorization: 'Basic abc' } });
    assert.equal(basic.status, 401);
    assert.equal(basic.body.error_code, 'UNAUTHORIZED');
  });

  test('an expired or foreign-signed access token is refused', async () => {
    const user = await registerUser(server.api);
    const secret = readFileSync(join(server.environment.dir, 'data', 'jwt_secret'), 'utf8').trim();
    const claims = JSON.parse(Buffer.from(user.token.split('.')[1]!, 'base64url').toString());
    const expired = await new SignJWT({ fam: claims.fam })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.userId)
      .setJti('x')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 120)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 1)
      .sign(new TextEncoder().encode(secret));
    const response = await server.api('GET', '/api/v1/auth/me', { token: expired });
    assert.equal(response.status, 401);
    assert.equal(response.body.error_code, 'UNAUTHORIZED');

    const forged = await new SignJWT({ fam: claims.fam })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.userId)
      .setJti('y')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another secret that is long enough!!'));
    assert.equal((await server.api('GET', '/api/v1/auth/me', { token: forged })).status, 401);
  });

  test('an access token accepted before its expiry is refused after it (verified tokens are remembered, their expiry is not)', async () => {
    const user = await registerUser(server.api);
    const secret = readFileSync(join(server.environment.dir, 'data', 'jwt_secret'), 'utf8').trim();
    const claims = JSON.parse(Buffer.from(user.token.split('.')[1]!, 'base64url').toString());
    const expiresAt = Math.floor(Date.now() / 1000) + 2;
    const shortLived = await new SignJWT({ fam: claims.fam })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.userId)
      .setJti('short')
      .setExpirationTime(expiresAt)
      .sign(new TextEncoder().encode(secret));
    assert.equal((await server.api('GET', '/api/v1/auth/me', { token: shortLived })).status, 200);
    assert.equal((await server.api('GET', '/api/v1/auth/me', { token: shortLived })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, expiresAt * 1000 - Date.now() + 50));
    const late = await server.api('GET', '/api/v1/auth/me', { token: shortLived });
    assert.equal(late.status, 401);
    assert.equal(late.body.error_code, 'UNAUTHORIZED');
  });

  test('refresh rotates; reusing a spent refresh token revokes the whole family', async () => {
    const user = await registerUser(server.api);
    const first = await server.api('POST', '/api/v1/auth/refresh', { body: { refresh_token: user.refreshToken } });
    assert.equal(first.status, 200);
    assert.notEqual(first.body.refresh_token, user.refreshToken);
    assert.equal((await server.api('GET', '/api/v1/auth/me', { token: first.body.access_token })).status, 200);

    // The old token again: theft detected, the family dies.
    const reuse = await server.api('POST', '/api/v1/auth/refresh', { body: { refresh_token: user.refreshToken } });
    assert.equal(reuse.status, 401);
    const afterTheft = await server.api('POST', '/api/v1/auth/refresh', { body: { refresh_token: first.body.refresh_token } });
    assert.equal(afterTheft.status, 401);
    assert.equal((await server.api('GET', '/api/v1/auth/me', { token: first.body.access_token })).status, 401);
    assert.equal((await server.api('GET', '/api/v1/auth/me', { token: user.token })).status, 401);

    // A separate login is a separate family and still works.
    const login = await server.api('POST', '/api/v1/auth/login', { body: { email: user.email, password: user.password } });
    assert.equal((await server.api('GET', '/api/v1/auth/me', { token: login.body.access_token })).status, 200);

    assert.equal((await server.api('POST', '/api/v1/auth/refresh', { body: { refresh_token: 'unknown' } })).status, 401);
    assert.equal((await server.api('POST', '/api/v1/auth/refresh', { body: {} })).status, 400);
  });

  test('logout makes the access token fail on the next request and kills the refresh token', async () => {
    const user = await registerUser(server.api);
    const logout = await server.api('POST', '/api/v1/auth/logout', { token: user.token, body: { refresh_token: user.refreshToken } });
    assert.equal(logout.status, 204);
    assert.equal(logout.text, '');
    const me = await server.api('GET', '/api/v1/auth/me', { token: user.token });
    assert.equal(me.status, 401);
    assert.equal(me.body.error_code, 'UNAUTHORIZED');
    assert.equal((await server.api('POST', '/api/v1/auth/refresh', { body: { refresh_token: user.refreshToken } })).status, 401);
    assert.equal((await server.api('POST', '/api/v1/auth/logout')).status, 401);
  });

  test('a logout racing requests of the same token: once it has answered, no request gets through', async () => {
    // The server remembers families it has read unrevoked; a read that overlapped the revocation must not be remembered.
    const user = await registerUser(server.api);
    assert.equal((await server.api('GET', '/api/v1/auth/me', { token: user.token })).status, 200);
    const during = Array.from({ length: 40 }, () => server.api('GET', '/api/v1/auth/me', { token: user.token }));
    const logout = server.api('POST', '/api/v1/auth/logout', { token: user.token });
    const more = Array.from({ length: 40 }, () => server.api('GET', '/api/v1/auth/me', { token: user.token }));
    assert.equal((await logout).status, 204);
    for (const response of await Promise.all([...during, ...more])) assert.ok([200, 401].includes(response.status));
    const after = await Promise.all(Array.from({ length: 20 }, () => server.api('GET', '/api/v1/auth/me', { token: user.token })));
    assert.deepEqual(
      after.map((response) => response.status),
      after.map(() => 401),
    );
  });

  test('logout without a body revokes the login of the access token', async () => {
    const user = await registerUser(server.api);
    assert.equal((await server.api('POST', '/api/v1/auth/logout', { token: user.token })).status, 204);
    assert.equal((await server.api('GET', '/api/v1/workspaces', { token: user.token })).status, 401);
    assert.equal((await server.api('POST', '/api/v1/auth/refresh', { body: { refresh_token: user.refreshToken } })).status, 401);
  });

  test('stream tickets are issued to authenticated users only', async () => {
    const user = await registerUser(server.api);
    const ticket = await server.api('POST', '/api/v1/auth/stream-ticket', { token: user.token });
    assert.equal(ticket.status, 201);
    assert.equal(ticket.body.expires_in, 60);
    assert.ok(ticket.body.ticket.length >= 32);
    assert.equal((await server.api('POST', '/api/v1/auth/stream-ticket')).status, 401);
    // Tokens are never accepted in the query string.
    assert.equal((await server.api('GET', `/api/v1/auth/me?access_token=${user.token}`)).status, 401);
  });
});

describe('login attempt limits', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => {
    server = await startTestServer({ toml: '[auth]\nlogin_max_failures_per_email = 3\nlogin_max_failures_per_ip = 5\n[limits]\nrequests_per_minute = 1000' });
  });
  after(() => server.shutdown());

  test('after N failures for one email further attempts get 429 with Retry-After, even with the right password', async () => {
    const user = await registerUser(server.api);
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await server.api('POST', '/api/v1/auth/login', { body: { email: user.email, password: 'wrong password' } });
      assert.equal(response.status, 401);
    }
    const blocked = await server.api('POST', '/api/v1/auth/login', { body: { email: user.email, password: user.password } });
    assert.equal(blocked.status, 429);
    assert.equal(blocked.body.error_code, 'RATE_LIMITED');
    const retryAfter = Number(blocked.headers.get('retry-after'));
    assert.ok(retryAfter > 800 && retryAfter <= 900, `retry-after ${retryAfter}`);
  });

  test('failures from one IP across emails hit the per-IP limit', async () => {
    // The previous test left 3 failures from this IP; 2 more reach 5.
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await server.api('POST', '/api/v1/auth/login', { body: { email: `other${attempt}@example.com`, password: 'wrong password' } });
      assert.equal(response.status, 401);
    }
    const blocked = await server.api('POST', '/api/v1/auth/login', { body: { email: 'fresh@example.com', password: 'whatever pw' } });
    assert.equal(blocked.status, 429);
  });
});
