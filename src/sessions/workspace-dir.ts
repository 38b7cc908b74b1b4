import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Where each session's files live: `<data dir>/workspaces/<session id>/`. */
export class SessionDirectories {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = resolve(dataDir, 'workspaces');
  }

  pathOf(sessionId: string): string {
    return join(this.root, sessionId);
  }

  async ensure(sessionId: string): Promise<string> {
    const path = this.pathOf(sessionId);
    await mkdir(path, { recursive: true });
    return path;
  }

  async remove(sessionId: string): Promise<void> {
    await rm(this.pathOf(sessionId), { recursive: true, force: true });
  }
}
