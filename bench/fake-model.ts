/**
 * The benchmark's model: test/support/fake-openai.ts in a process of its own, so producing
 * tokens (and their timestamps) never waits behind the bench client's event loop.
 *
 * Started by relay-bench.ts with an IPC channel. Protocol:
 *   child → parent  { type: 'ready', baseUrl }
 *   parent → child  { type: 'turn', id, turn }   sets the default turn (every request gets it)
 *   child → parent  { type: 'ok', id, requests } (requests = total served so far)
 */
import { startFakeOpenAI, type FakeTurn } from '../test/support/fake-openai.js';

interface TurnMessage {
  type: 'turn';
  id: number;
  turn: FakeTurn;
}

if (!process.send) {
  console.error('fake-model.ts must be started with an IPC channel (by relay-bench.ts)');
  process.exit(2);
}

const fake = await startFakeOpenAI({ defaultTurn: { text: 'ok' } });

process.on('message', (message: TurnMessage) => {
  if (message?.type !== 'turn') return;
  fake.setDefaultTurn(message.turn);
  // Request bodies are kept by the fake for tests; a long bench does not need them.
  fake.requests.length = 0;
  process.send!({ type: 'ok', id: message.id });
});

// The parent going away (even by SIGKILL) closes the channel: do not outlive it.
process.on('disconnect', () => {
  void fake.close().finally(() => process.exit(0));
});
process.on('SIGTERM', () => {
  void fake.close().finally(() => process.exit(0));
});

process.send({ type: 'ready', baseUrl: fake.baseUrl });
