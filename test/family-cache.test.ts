import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TokenFamilyCache } from '../src/auth/family-cache.js';

// The races the HTTP test in auth.test.ts cannot time exactly: a read that overlapped a revocation.
describe('token family cache', () => {
  test('a read that overlapped a revocation is not remembered', () => {
    const cache = new TokenFamilyCache();
    const epoch = cache.readStarted();
    cache.forget('fam-a'); // the revocation commits while the read is on its way back
    cache.remember('fam-a', 'user-1', epoch);
    assert.equal(cache.userOf('fam-a'), undefined);
    cache.remember('fam-a', 'user-1', cache.readStarted());
    assert.equal(cache.userOf('fam-a'), 'user-1');
    cache.forget('fam-a');
    assert.equal(cache.userOf('fam-a'), undefined);
  });

  test('entries expire and the oldest goes when full', async () => {
    const short = new TokenFamilyCache(5);
    short.remember('fam-a', 'user-1', short.readStarted());
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(short.userOf('fam-a'), undefined);

    const small = new TokenFamilyCache(60_000, 2);
    for (const family of ['fam-a', 'fam-b', 'fam-c']) small.remember(family, 'user-1', small.readStarted());
    assert.deepEqual(
      ['fam-a', 'fam-b', 'fam-c'].map((family) => small.userOf(family)),
      [undefined, 'user-1', 'user-1'],
    );
  });
});
