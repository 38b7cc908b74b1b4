import { type Compilable, type CompiledQuery, createQueryId, type Kysely, type QueryResult } from 'kysely';

/** Stands for one named value while a query is compiled; the compiled parameters carry it. */
class Slot {
  constructor(readonly name: string) {}
}

/** Shapes kept compiled; a program has a few dozen, past this new ones simply compile every time. */
const CAPACITY = 500;

/**
 * Queries Kysely builds and compiles once per shape, then runs with new values. Kysely builds an
 * operation tree and compiles it to SQL on every call, some 50–100 µs a query, and a run makes a
 * dozen on the way to its first token. Here the first call builds the query with a placeholder
 * for each value, and later calls put their values where the placeholders ended up in the
 * compiled parameters.
 *
 * `build` runs once per shape, with placeholders: it may use `values` only as query values
 * (`where(column, '=', value)`, `values(row)`, `set(changes)`, `eb(column, '+', value)`), never in
 * a JavaScript decision nor as an `in` list. The shape is `name` plus which values are defined
 * (Kysely leaves undefined ones out of inserts and updates); whatever else changes the SQL (an
 * `in` list taken from the caller's scope) belongs in `name`.
 */
export class PreparedQueries<DB> {
  private readonly compiled = new Map<string, CompiledQuery>();

  constructor(private readonly db: Kysely<DB>) {}

  async execute<R, V extends Record<string, unknown>>(name: string, values: V, build: (db: Kysely<DB>, values: V) => Compilable<R>): Promise<QueryResult<R>> {
    let shape = name;
    for (const key in values) if (values[key] !== undefined) shape += `,${key}`;
    let compiled = this.compiled.get(shape);
    if (!compiled) {
      const slots: Record<string, Slot | undefined> = {};
      for (const key in values) {
        const value = values[key];
        // Kysely turns an array or an expression into more than one parameter: such a value has no single place.
        if (Array.isArray(value) || (typeof value === 'object' && value !== null && !(value instanceof Date) && !Buffer.isBuffer(value)) || typeof value === 'function') {
          throw new TypeError(`prepared query ${name}: value "${key}" is not a scalar`);
        }
        slots[key] = value === undefined ? undefined : new Slot(key);
      }
      compiled = build(this.db, slots as V).compile();
      if (this.compiled.size < CAPACITY) this.compiled.set(shape, compiled);
    }
    const parameters = compiled.parameters.map((parameter) => (parameter instanceof Slot ? values[parameter.name] : parameter));
    return this.db.executeQuery<R>({ ...compiled, queryId: createQueryId(), parameters } as CompiledQuery<R>);
  }

  async rows<R, V extends Record<string, unknown>>(name: string, values: V, build: (db: Kysely<DB>, values: V) => Compilable<R>): Promise<R[]> {
    return (await this.execute(name, values, build)).rows;
  }

  async first<R, V extends Record<string, unknown>>(name: string, values: V, build: (db: Kysely<DB>, values: V) => Compilable<R>): Promise<R | undefined> {
    return (await this.execute(name, values, build)).rows[0];
  }

  /** Rows an INSERT, UPDATE or DELETE changed. */
  async changed<V extends Record<string, unknown>>(name: string, values: V, build: (db: Kysely<DB>, values: V) => Compilable<unknown>): Promise<number> {
    return Number((await this.execute(name, values, build)).numAffectedRows ?? 0);
  }
}
