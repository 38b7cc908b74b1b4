import type { Kysely } from 'kysely';
import type { Database, FileRow } from '../schema.js';

export class FilesRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async create(file: FileRow): Promise<void> {
    await this.db.insertInto('files').values(file).execute();
  }

  findById(id: string): Promise<FileRow | undefined> {
    return this.db.selectFrom('files').selectAll().where('id', '=', id).executeTakeFirst();
  }
}
