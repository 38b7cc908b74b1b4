/**
 * Requests that each would cost a round trip to the database, gathered so that those arriving
 * while a round trip is in flight share the next one. At rest a request goes at once, alone;
 * under load one statement carries many. (On loopback TCP, sending a statement costs the server
 * about as much CPU as the statement costs the database: the kernel delivers the packet and
 * wakes the backend inside the sender's system call.)
 *
 * `execute` answers one result per request, in order, and must be atomic: when it throws, it
 * has done nothing, and each request of the batch is then tried alone, so that a request's error
 * (a unique violation, a bad value) is its own and not its neighbours'. Requests with the same
 * `keyOf` never share a batch (a later one waits for the next): two starts of one session would
 * otherwise both pass a check that each makes against the state before the statement.
 */
export class BatchQueue<Request, Result> {
  private queue: Array<{ request: Request; resolve(result: Result): void; reject(error: unknown): void }> = [];
  private flushing = false;

  constructor(
    private readonly execute: (requests: Request[]) => Promise<Result[]>,
    private readonly maxBatch: number,
    private readonly keyOf: (request: Request) => string,
  ) {}

  submit(request: Request): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0) {
      const batch = this.nextBatch();
      try {
        const results = await this.execute(batch.map((entry) => entry.request));
        batch.forEach((entry, index) => entry.resolve(results[index]!));
      } catch (error) {
        if (batch.length === 1) batch[0]!.reject(error);
        else for (const entry of batch) await this.execute([entry.request]).then(([result]) => entry.resolve(result!), entry.reject);
      }
    }
    this.flushing = false;
  }

  /** The oldest requests, up to maxBatch, one per key; the rest keep their order in the queue. */
  private nextBatch(): typeof this.queue {
    const batch: typeof this.queue = [];
    const rest: typeof this.queue = [];
    const keys = new Set<string>();
    for (const entry of this.queue) {
      const key = this.keyOf(entry.request);
      if (batch.length < this.maxBatch && !keys.has(key)) {
        keys.add(key);
        batch.push(entry);
      } else rest.push(entry);
    }
    this.queue = rest;
    return batch;
  }
}
