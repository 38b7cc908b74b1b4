/**
 * Lets one waiter go per turn of the event loop. Work that runs synchronously to its end (a run's
 * start on SQLite: every statement of it resolves without I/O) then comes one piece per turn,
 * with the network reads of running streams in between, instead of many pieces back to back
 * while every stream waits.
 */
export class LoopTurns {
  private readonly waiting: Array<() => void> = [];
  private scheduled = false;

  /** Resolves in a later turn of the event loop, after those who asked before. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (!this.scheduled) this.schedule();
    });
  }

  private schedule(): void {
    this.scheduled = true;
    // An immediate set from inside an immediate runs in the next turn, after that turn's I/O.
    setImmediate(this.release);
  }

  private readonly release = () => {
    this.scheduled = false;
    this.waiting.shift()?.();
    if (this.waiting.length > 0) this.schedule();
  };
}
