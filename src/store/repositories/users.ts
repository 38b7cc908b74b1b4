import type { Kysely } from 'kysely';
import type { Database, UserRow } from '../schema.js';

export class UsersRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async create(user: UserRow): Promise<void> {
    await this.db.insertInto('users').values(user).execute();
  }

  findById(id: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByEmail(email: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  }
}
