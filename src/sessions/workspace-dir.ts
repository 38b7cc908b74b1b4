import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Where each session's files live: `<data dir>/workspaces/<session id>/`. */
export class SessionDirectories {
  readonly root: string;
  /** Directories made by this process: every run ensures its workspace, and mkdir is not free. */
  private readonly made = new Set<string>();

  constructor(dataDir: string) {
    this.root = resolve(dataDir, 'workspaces');
  }

  pathOf(sessionId: string): string {
    return join(this.root, sessionId);
  }

  async ensure(sessionId: string): Promise<string> {
    const path = this.pathOf(sessionId);
    if (this.made.has(path)) return path;
    await mkdir(path, { recursive: true });
    this.made.add(path);
    return path;
  }

  async remove(sessionId: string): Promise<void> {
    this.made.delete(this.pathOf(sessionId));
    await rm(this.pathOf(sessionId), { recursive: true, force: true });
  }
}
