import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import type { Dialect } from './database.js';
import { eventTableMigrations } from './event-table-migrations.js';

/**
 * Versioned migrations, written once for both dialects. Only the auto-increment key differs,
 * so each migration receives the dialect name.
 */
function migrations(dialect: Dialect): Record<string, Migration> {
  const autoId = dialect === 'postgres' ? ('bigserial' as const) : ('integer' as const);
  return {
    '0001_initial': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('email', 'text', (c) => c.notNull().unique())
          .addColumn('username', 'text', (c) => c.notNull())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('token_families')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'text')
          .addColumn('revoked_reason', 'text')
          .execute();

        await db.schema
          .createTable('refresh_tokens')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('family_id', 'text', (c) => c.notNull().references('token_families.id').onDelete('cascade'))
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('used_at', 'text')
          .execute();

        await db.schema
          .createTable('stream_tickets')
          .addColumn('ticket_hash', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('used_at', 'text')
          .execute();

        await db.schema
          .createTable('login_failures')
          .addColumn('id', autoId, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('login_failures_subject').on('login_failures').columns(['subject', 'created_at']).execute();

        await db.schema
          .createTable('workspaces')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('workspace_members')
          .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('workspace_members_pk', ['workspace_id', 'user_id'])
          .execute();
        await db.schema.createIndex('workspace_members_user').on('workspace_members').column('user_id').execute();

        await db.schema
          .createTable('sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('task_type', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('input_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('output_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('last_event_seq', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('compacted_through_seq', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('sessions_workspace').on('sessions').columns(['workspace_id', 'created_at']).execute();
        await db.schema.createIndex('sessions_user_kind').on('sessions').columns(['user_id', 'kind']).execute();

        await db.schema
          .createTable('runs')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('prompt', 'text', (c) => c.notNull())
          .addColumn('input', 'text')
          .addColumn('answer', 'text')
          .addColumn('error', 'text')
          .addColumn('error_code', 'text')
          .addColumn('iterations', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('input_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('output_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('checkpoint', 'text')
          .addColumn('owner_id', 'text')
          .addColumn('lease_expires_at', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text')
          .addColumn('finished_at', 'text')
          .execute();
        await db.schema.createIndex('runs_session').on('runs').columns(['session_id', 'created_at']).execute();
        await db.schema.createIndex('runs_state').on('runs').columns(['state', 'created_at']).execute();
        await db.schema.createIndex('runs_user').on('runs').columns(['user_id', 'kind', 'created_at']).execute();
        // At most one live run per session, enforced by the database so two processes cannot both start one.
        await db.schema
          .createIndex('runs_one_live_per_session')
          .on('runs')
          .column('session_id')
          .unique()
          .where(sql.ref('state'), 'in', sql`('running', 'waiting_approval')`)
          .execute();

        await db.schema
          .createTable('messages')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
          .addColumn('run_id', 'text')
          .addColumn('position', 'bigint', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('content', 'text', (c) => c.notNull())
          .addColumn('tool_calls', 'text')
          .addColumn('tool_call_id', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('messages_session_position').on('messages').columns(['session_id', 'position']).unique().execute();

        await db.schema
          .createTable('events')
          .addColumn('id', autoId, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('run_id', 'text')
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('events_session_seq').on('events').columns(['session_id', 'seq']).unique().execute();

        await db.schema
          .createTable('approvals')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
          .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id').onDelete('cascade'))
          .addColumn('call_id', 'text', (c) => c.notNull())
          .addColumn('tool', 'text', (c) => c.notNull())
          .addColumn('args', 'text', (c) => c.notNull())
          .addColumn('args_hash', 'text', (c) => c.notNull())
          .addColumn('operation', 'text', (c) => c.notNull())
          .addColumn('description', 'text', (c) => c.notNull())
          .addColumn('risk_level', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('feedback', 'text')
          .addColumn('responded_by', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('responded_at', 'text')
          .execute();
        await db.schema.createIndex('approvals_session_status').on('approvals').columns(['session_id', 'status']).execute();

        await db.schema
          .createTable('artifacts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
          .addColumn('run_id', 'text')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('path', 'text', (c) => c.notNull())
          .addColumn('mime_type', 'text', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('artifacts_session_path').on('artifacts').columns(['session_id', 'path']).unique().execute();

        await db.schema
          .createTable('files')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('storage_path', 'text', (c) => c.notNull())
          .addColumn('mime_type', 'text', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
      },
      async down(db: Kysely<unknown>) {
        for (const table of [
          'files', 'artifacts', 'approvals', 'events', 'messages', 'runs', 'sessions',
          'workspace_members', 'workspaces', 'login_failures', 'stream_tickets', 'refresh_tokens',
          'token_families', 'users',
        ]) {
          await sql`drop table if exists ${sql.table(table)}`.execute(db);
        }
      },
    },
    '0002_approvals_and_workspace_policy': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('workspaces').addColumn('tool_policy', 'text').execute();
        await db.schema.createIndex('approvals_run_call').on('approvals').columns(['run_id', 'call_id']).execute();
        await db.schema.createIndex('approvals_status_expires').on('approvals').columns(['status', 'expires_at']).execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropIndex('approvals_status_expires').execute();
        await db.schema.dropIndex('approvals_run_call').execute();
        await db.schema.alterTable('workspaces').dropColumn('tool_policy').execute();
      },
    },
    '0003_message_attachments': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('messages').addColumn('attachments', 'text').execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.alterTable('messages').dropColumn('attachments').execute();
      },
    },
    '0004_event_log_state': {
      // The SQLite event log's clean-shutdown flag (see src/store/sqlite/event-store.ts).
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('event_log_state')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('value', 'bigint', (c) => c.notNull())
          .execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable('event_log_state').execute();
      },
    },
    ...eventTableMigrations(dialect),
    '0007_postgres_lz4_for_long_text': {
      // PostgreSQL 14 and later, when built with lz4. A pack of deltas, a `done` event, a run's
      // answer and its final message each hold KBs of text that PostgreSQL compresses as it writes
      // them, by default with pglz: during bursts pglz_compress was 43 % of what the connection
      // writing the log spent. lz4 compresses this text several times faster. Values already
      // written keep their pglz data and read as before.
      async up(db: Kysely<unknown>) {
        if (dialect === 'postgres') await setLongTextCompression(db, 'lz4');
      },
      async down(db: Kysely<unknown>) {
        if (dialect === 'postgres') await setLongTextCompression(db, 'default');
      },
    },
  };
}

/** The columns that hold long text: the log's data, a run's answer, input and checkpoint, a message's content. */
const LONG_TEXT_COLUMNS = [
  ['events', 'data'],
  ['runs', 'answer'],
  ['runs', 'input'],
  ['runs', 'checkpoint'],
  ['messages', 'content'],
] as const;

/** Sets the columns' compression where the server has the method (PostgreSQL 14+, lz4 compiled in); else leaves pglz. */
async function setLongTextCompression(db: Kysely<unknown>, method: 'lz4' | 'default'): Promise<void> {
  const statements = LONG_TEXT_COLUMNS.map(([table, column]) => `alter table ${table} alter column ${column} set compression ${method}`);
  await sql`do $$
    begin
      if current_setting('server_version_num')::int >= 140000 then
        ${sql.raw(statements.map((statement) => `execute '${statement}';`).join('\n        '))}
      end if;
    exception when feature_not_supported then null;
    end $$`.execute(db);
}

class InlineMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.dialect);
  }
}

export async function migrateToLatest(db: Kysely<unknown>, dialect: Dialect): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new InlineMigrationProvider(dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((result) => result.status === 'Success').map((result) => result.migrationName);
}
