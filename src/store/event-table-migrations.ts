import { type Kysely, type Migration, sql } from 'kysely';
import type { Dialect } from './database.js';

/**
 * Migrations that shape the `events` table for one dialect's write path (numbered among the
 * others in migrations.ts): each applies to one dialect and is a no-op on the other.
 */
export function eventTableMigrations(dialect: Dialect): Record<string, Migration> {
  return {
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
