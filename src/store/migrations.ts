import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import type { Dialect } from './database.js';

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
    '0005_sqlite_events_without_autoincrement': {
      // SQLite only. AUTOINCREMENT rewrote sqlite_sequence's page in every commit of the event log,
      // though the log numbers ids itself. What it guarded, that no id is handed out twice after
      // the newest rows are deleted, is kept by a trigger that records the highest deleted id.
      async up(db: Kysely<unknown>) {
        if (dialect !== 'sqlite') return;
        await sql`create table events_rebuilt (
          id integer primary key,
          session_id text not null references sessions (id) on delete cascade,
          seq bigint not null,
          run_id text,
          type text not null,
          data text not null,
          created_at text not null
        )`.execute(db);
        await sql`insert into events_rebuilt (id, session_id, seq, run_id, type, data, created_at)
          select id, session_id, seq, run_id, type, data, created_at from events`.execute(db);
        await sql`insert into event_log_state (name, value)
          values ('max_deleted_id', coalesce((select seq from sqlite_sequence where name = 'events'), 0))`.execute(db);
        await sql`drop table events`.execute(db);
        await sql`alter table events_rebuilt rename to events`.execute(db);
        await db.schema.createIndex('events_session_seq').on('events').columns(['session_id', 'seq']).unique().execute();
        await sql`create trigger events_record_deleted_id after delete on events
          when old.id > (select value from event_log_state where name = 'max_deleted_id')
          begin
            update event_log_state set value = old.id where name = 'max_deleted_id';
          end`.execute(db);
      },
      async down(db: Kysely<unknown>) {
        if (dialect !== 'sqlite') return;
        await sql`drop trigger events_record_deleted_id`.execute(db);
      },
    },
    '0006_postgres_events_without_foreign_key': {
      // PostgreSQL only. The foreign key's check ran a query per inserted event, about half of what
      // the database spent per token; the event log's writes already leave out rows whose session
      // is gone. Deleting a session still deletes its events, once per statement.
      async up(db: Kysely<unknown>) {
        if (dialect !== 'postgres') return;
        await sql`do $$
          declare name text;
          begin
            select conname into name from pg_constraint where conrelid = 'events'::regclass and contype = 'f';
            if name is not null then execute format('alter table events drop constraint %I', name); end if;
          end $$`.execute(db);
        await sql`create function td_delete_events_of_deleted_sessions() returns trigger language plpgsql as $$
          begin
            delete from events where session_id in (select id from deleted_sessions);
            return null;
          end $$`.execute(db);
        await sql`create trigger events_follow_deleted_sessions after delete on sessions
          referencing old table as deleted_sessions for each statement
          execute function td_delete_events_of_deleted_sessions()`.execute(db);
      },
      async down(db: Kysely<unknown>) {
        if (dialect !== 'postgres') return;
        await sql`drop trigger events_follow_deleted_sessions on sessions`.execute(db);
        await sql`drop function td_delete_events_of_deleted_sessions()`.execute(db);
        await sql`delete from events where session_id not in (select id from sessions)`.execute(db);
        await sql`alter table events add foreign key (session_id) references sessions (id) on delete cascade`.execute(db);
      },
    },
  };
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
