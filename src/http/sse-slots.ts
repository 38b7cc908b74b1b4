import { rateLimited } from '../core/errors.js';

/**
 * Counts open SSE connections per user so every SSE route shares one concurrency limit.
 * The in-memory counter serves one process; scale-out swaps in a shared implementation.
 */
export interface SseSlotCounter {
  /** Takes a slot; false when the user already holds `max`. */
  tryAcquire(userId: string, max: number): Promise<boolean>;
  release(userId: string): Promise<void>;
  /** Open connections of all users (for metrics). */
  total(): number;
}

export class MemorySseSlotCounter implements SseSlotCounter {
  private readonly open = new Map<string, number>();
  private count = 0;

  async tryAcquire(userId: string, max: number): Promise<boolean> {
    const current = this.open.get(userId) ?? 0;
    if (current >= max) return false;
    this.open.set(userId, current + 1);
    this.count++;
    return true;
  }

  async release(userId: string): Promise<void> {
    const current = this.open.get(userId) ?? 0;
    if (current <= 1) this.open.delete(userId);
    else this.open.set(userId, current - 1);
    if (current > 0) this.count--;
  }

  total(): number {
    return this.count;
  }
}

export class SseSlots {
  constructor(
    private readonly counter: SseSlotCounter,
    private readonly max: number,
  ) {}

  /** Acquires a slot or throws 429; the returned function releases it exactly once. */
  async acquire(userId: string): Promise<() => void> {
    if (!(await this.counter.tryAcquire(userId, this.max))) {
      throw rateLimited(`Too many concurrent streams (limit ${this.max})`, 5);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      void this.counter.release(userId);
    };
  }

  get open(): number {
    return this.counter.total();
  }
}
