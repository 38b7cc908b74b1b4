import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { registerUser, TestEnvironment } from './support/server.js';

describe('server restart', () => {
  let environment: TestEnvironment;
  before(async () => {
    environment = await TestEnvironment.create();
  });
  after(() => environment.destroy());

  test('a graceful restart keeps users, sessions and still-valid tokens', async () => {
    const first = await environment.spawn();
    const user = await registerUser(first.api);
    const session = await first.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId, title: 'Survives' } });
    assert.equal(session.status, 201);
    await first.stop();
    assert.equal(first.child!.exitCode, 0, 'SIGTERM exits 0');

    const second = await environment.spawn();
    try {
      const me = await second.api('GET', '/api/v1/auth/me', { token: user.token });
      assert.equal(me.status, 200, 'the access token issued before the restart still works');
      assert.equal(me.body.email, user.email);
      const reread = await second.api('GET', `/api/v1/sessions/${session.body.id}`, { token: user.token });
      assert.equal(reread.status, 200);
      assert.equal(reread.body.title, 'Survives');
      const refreshed = await second.api('POST', '/api/v1/auth/refresh', { body: { refresh_token: user.refreshToken } });
      assert.equal(refreshed.status, 200, 'the refresh token issued before the restart still works');
      const login = await second.api('POST', '/api/v1/auth/login', { body: { email: user.email, password: user.password } });
      assert.equal(login.status, 200);
    } finally {
      await second.stop();
    }
  });

  test('after a crash (SIGKILL) the data is still there', async () => {
    const first = await environment.spawn();
    const user = await registerUser(first.api);
    const session = await first.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } });
    await first.kill();
    const second = await environment.spawn();
    try {
      const reread = await second.api('GET', `/api/v1/sessions/${session.body.id}`, { token: user.token });
      assert.equal(reread.status, 200);
    } finally {
      await second.stop();
    }
  });
});
