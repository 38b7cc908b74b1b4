/**
 * The parent side of bench/fake-model.ts: starts the fake model in its own process (so producing
 * and stamping tokens never waits behind the bench client's event loop) and sets the turn every
 * following request gets.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { FakeTurn } from '../test/support/fake-openai.js';
import { onCleanup, stopChild, track } from './child-processes.js';
import { BENCH_DIR, ROOT } from './settings.js';

export interface FakeModel {
  baseUrl: string;
  pid: number;
  /** Every request from now on streams this turn (all targets share one model). */
  setTurn(turn: FakeTurn): Promise<void>;
}

export async function startFakeModel(): Promise<FakeModel> {
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'fake-model.ts')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  onCleanup('fake model', () => stopChild(child));
  let nextId = 0;
  const waiting = new Map<number, () => void>();
  const baseUrl = await new Promise<string>((resolvePromise, reject) => {
    child.on('message', (message: { type: string; id?: number; baseUrl?: string }) => {
      if (message.type === 'ready') resolvePromise(message.baseUrl!);
      if (message.type === 'ok') waiting.get(message.id!)?.();
    });
    child.once('exit', (code) => reject(new Error(`fake model exited (${code}) before it was ready`)));
  });
  return {
    baseUrl,
    pid: child.pid!,
    setTurn: (turn) =>
      new Promise<void>((resolvePromise, reject) => {
        const id = ++nextId;
        const timer = setTimeout(() => reject(new Error('fake model did not acknowledge the turn')), 10_000);
        waiting.set(id, () => {
          clearTimeout(timer);
          waiting.delete(id);
          resolvePromise();
        });
        child.send({ type: 'turn', id, turn });
      }),
  };
}
