import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoopTurns } from '../src/core/loop-turns.js';

test('LoopTurns lets one waiter go per turn of the event loop, in the order they asked', async () => {
  const turns = new LoopTurns();
  const seen: string[] = [];
  const all = ['a', 'b', 'c'].map((name) => turns.next().then(() => seen.push(name)));
  // Queued after the first release in this turn's check phase: it runs before the second release.
  setImmediate(() => seen.push('end of turn 1'));
  await Promise.all(all);
  assert.deepEqual(seen, ['a', 'end of turn 1', 'b', 'c']);

  // Idle again: the next waiter goes in the next turn, not behind anything left over.
  await turns.next();
});

test('LoopTurns: network reads run between the releases of a long queue', async () => {
  const turns = new LoopTurns();
  const { createServer, connect } = await import('node:net');
  // The byte arrives a little after the queue has begun to be released.
  const server = createServer((socket) => void setTimeout(() => socket.end('x'), 2));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as { port: number };
    let released = 0;
    let releasedWhenRead = -1;
    const socket = connect(port, '127.0.0.1');
    socket.on('data', () => (releasedWhenRead = released));
    await new Promise((resolve) => socket.once('connect', resolve));
    // Enough waiters that releasing them back to back would outlast the read.
    const waiters = Array.from({ length: 20_000 }, () => turns.next().then(() => released++));
    await Promise.all(waiters);
    socket.destroy();
    assert.ok(releasedWhenRead > 0 && releasedWhenRead < 20_000, `the read ran after ${releasedWhenRead} of 20000 releases`);
  } finally {
    server.close();
  }
});
