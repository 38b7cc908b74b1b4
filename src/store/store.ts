import type { DatabaseHandle } from './database.js';
import { openDatabase } from './database.js';
import { migrateToLatest } from './migrations.js';
import { ApprovalsRepository } from './repositories/approvals.js';
import { ArtifactsRepository } from './repositories/artifacts.js';
import { EventsRepository } from './repositories/events.js';
import { FilesRepository } from './repositories/files.js';
import { MessagesRepository } from './repositories/messages.js';
import { RunsRepository } from './repositories/runs.js';
import { SessionsRepository } from './repositories/sessions.js';
import { TokensRepository } from './repositories/tokens.js';
import { UsersRepository } from './repositories/users.js';
import { WorkspacesRepository } from './repositories/workspaces.js';

/** Every repository over one database; the rest of the program sees only this. */
export class Store {
  readonly users: UsersRepository;
  readonly tokens: TokensRepository;
  readonly workspaces: WorkspacesRepository;
  readonly sessions: SessionsRepository;
  readonly messages: MessagesRepository;
  readonly runs: RunsRepository;
  readonly events: EventsRepository;
  readonly approvals: ApprovalsRepository;
  readonly artifacts: ArtifactsRepository;
  readonly files: FilesRepository;

  constructor(readonly handle: DatabaseHandle) {
    const { db } = handle;
    this.users = new UsersRepository(db);
    this.tokens = new TokensRepository(db);
    this.workspaces = new WorkspacesRepository(db);
    this.sessions = new SessionsRepository(db);
    this.messages = new MessagesRepository(db);
    this.runs = new RunsRepository(db);
    this.events = new EventsRepository(db, handle.dialect);
    this.approvals = new ApprovalsRepository(db);
    this.artifacts = new ArtifactsRepository(db);
    this.files = new FilesRepository(db);
  }

  static async open(url: string, options: { migrate?: boolean; cwd?: string } = {}): Promise<Store> {
    const handle = openDatabase(url, options.cwd);
    if (options.migrate ?? true) await migrateToLatest(handle.db as never, handle.dialect);
    return new Store(handle);
  }

  ping(): Promise<void> {
    return this.handle.ping();
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
