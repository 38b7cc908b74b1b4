/** Callbacks run once when a stream closes; one added after that runs at once. */
export class CloseListeners {
  private listeners: Array<() => void> | null = [];

  get closed(): boolean {
    return this.listeners === null;
  }

  /** Returns a function that forgets the listener (e.g. when a wait ends first). */
  add(listener: () => void): () => void {
    if (!this.listeners) {
      listener();
      return () => {};
    }
    this.listeners.push(listener);
    return () => {
      const index = this.listeners?.indexOf(listener) ?? -1;
      if (index >= 0) this.listeners!.splice(index, 1);
    };
  }

  /** Marks the stream closed and runs every listener once; later calls do nothing. */
  close(): void {
    const listeners = this.listeners;
    this.listeners = null;
    for (const listener of listeners ?? []) listener();
  }
}
