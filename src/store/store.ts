import type { DatabaseHandle } from './database.js';
import { openDatabase } from './database.js';
import type { EventStore } from '../events/event-store.js';
import { migrateToLatest } from './migrations.js';
import { ApprovalsRepository } from './repositories/approvals.js';
import { ArtifactsRepository } from './repositories/artifacts.js';
import { EventsRepository } from './repositories/events.js';
import { FilesRepository } from './repositories/files.js';
import { PostgresEventStore } from './postgres/event-store.js';
import { MessagesRepository } from './repositories/messages.js';
import { RunsRepository } from './repositories/runs.js';
import { SessionsRepository } from './repositories/sessions.js';
import { TokensRepository } from './repositories/tokens.js';
import { UsersRepository } from './repositories/users.js';
import { SqliteEventStore } from './sqlite/event-store.js';
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
    this.events = new EventsRepository(db);
    this.approvals = new ApprovalsRepository(db);
    this.artifacts = new ArtifactsRepository(db);
    this.files = new FilesRepository(db);
  }

  static async open(url: string, options: { migrate?: boolean; cwd?: string } = {}): Promise<Store> {
    const handle = openDatabase(url, options.cwd);
    if (options.migrate ?? true) await migrateToLatest(handle.db as never, handle.dialect);
    return new Store(handle);
  }

  /**
   * The event log's storage. Opened by the server only: on SQLite it marks the log as in use
   * until closed, which a CLI command reading the database must not do.
   */
  openEventStore(): EventStore {
    const { driver } = this.handle;
    return driver.dialect === 'sqlite' ? new SqliteEventStore(driver.connection) : new PostgresEventStore(driver.pool);
  }

  ping(): Promise<void> {
    return this.handle.ping();
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
