import type { DatabaseHandle } from './database.js';
import { openDatabase } from './database.js';
import type { EventStore } from '../events/event-store.js';
import { migrateToLatest } from './migrations.js';
import { ApprovalsRepository } from './repositories/approvals.js';
import { ArtifactsRepository } from './repositories/artifacts.js';
import { EventsRepository } from './repositories/events.js';
import { FilesRepository } from './repositories/files.js';
import { PostgresEventStore } from './postgres/event-store.js';
import { PostgresSingleWriterEventStore } from './postgres/single-writer-event-store.js';
import { MessagesRepository } from './repositories/messages.js';
import { RunsRepository } from './repositories/runs.js';
import { SessionsRepository } from './repositories/sessions.js';
import { TokensRepository } from './repositories/tokens.js';
import { UsersRepository } from './repositories/users.js';
import { SqliteEventStore } from './sqlite/event-store.js';
import { takeSqliteWriterLock } from './sqlite/writer-lock.js';
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
    this.sessions = new SessionsRepository(db, handle.dialect);
    this.messages = new MessagesRepository(db);
    this.runs = new RunsRepository(db, handle.dialect);
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
   * The event log's storage. Opened by the server only: it marks the log as in use until closed
   * (and holds the one-writer lock), which a CLI command must not do. `shared`:
   * several processes write (PostgreSQL in scale-out, SPEC §11), so the database numbers events.
   */
  async openEventStore(options: { shared?: boolean } = {}): Promise<EventStore> {
    const { driver } = this.handle;
    if (driver.dialect === 'sqlite') {
      // Taken before the store reads its state: a second process must not even run the crash recovery.
      const lock = this.handle.location === ':memory:' ? undefined : await takeSqliteWriterLock(this.handle.location);
      return new SqliteEventStore(driver.connection, lock);
    }
    return options.shared ? new PostgresEventStore(driver.pool) : PostgresSingleWriterEventStore.open(driver.pool);
  }

  ping(): Promise<void> {
    return this.handle.ping();
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
