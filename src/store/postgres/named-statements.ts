import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';

/** Distinct SQL texts given a name; Kysely's texts use placeholders, so a few hundred cover the program. */
const CAPACITY = 500;

/**
 * The pool as Kysely's PostgreSQL dialect sees it, with every query sent as a named prepared
 * statement: Kysely sends each query unnamed, so PostgreSQL parses and plans it on every call,
 * which costs the backend more than running most of them. pg prepares a name once per
 * connection. Names are never reused for another text (a connection keeps what it prepared), so
 * texts past CAPACITY simply go unnamed.
 */
export function withNamedStatements(pool: pg.Pool): PostgresPool {
  const names = new Map<string, string>();
  const nameFor = (text: string): string | undefined => {
    let name = names.get(text);
    if (name === undefined && names.size < CAPACITY) names.set(text, (name = `td_k${names.size}`));
    return name;
  };
  const facades = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  return {
    async connect() {
      const client = await pool.connect();
      let facade = facades.get(client);
      if (!facade) {
        facade = {
          query: ((textOrCursor: unknown, values?: readonly unknown[]) => {
            if (typeof textOrCursor !== 'string') return client.query(textOrCursor as never);
            const name = nameFor(textOrCursor);
            return name === undefined ? client.query(textOrCursor, values as unknown[]) : client.query({ name, text: textOrCursor, values: values as unknown[] });
          }) as unknown as PostgresPoolClient['query'],
          release: () => client.release(),
        };
        facades.set(client, facade);
      }
      return facade;
    },
    end: () => pool.end(),
  };
}
