import type { Kysely } from 'kysely';
import type { ArtifactRow, Database } from '../schema.js';

export class ArtifactsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** One artifact per workspace path: writing the same file again updates it. */
  async upsert(artifact: ArtifactRow): Promise<ArtifactRow> {
    await this.db
      .insertInto('artifacts')
      .values(artifact)
      .onConflict((oc) =>
        oc.columns(['session_id', 'path']).doUpdateSet({
          size: artifact.size,
          mime_type: artifact.mime_type,
          run_id: artifact.run_id,
          updated_at: artifact.updated_at,
        }),
      )
      .execute();
    return (await this.db
      .selectFrom('artifacts')
      .selectAll()
      .where('session_id', '=', artifact.session_id)
      .where('path', '=', artifact.path)
      .executeTakeFirst())!;
  }

  findById(id: string): Promise<ArtifactRow | undefined> {
    return this.db.selectFrom('artifacts').selectAll().where('id', '=', id).executeTakeFirst();
  }

  listForSession(sessionId: string): Promise<ArtifactRow[]> {
    return this.db
      .selectFrom('artifacts')
      .selectAll()
      .where('session_id', '=', sessionId)
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .execute();
  }

  listForRun(runId: string): Promise<ArtifactRow[]> {
    return this.db.selectFrom('artifacts').selectAll().where('run_id', '=', runId).orderBy('created_at', 'asc').execute();
  }

  async deleteByPath(sessionId: string, path: string): Promise<void> {
    await this.db.deleteFrom('artifacts').where('session_id', '=', sessionId).where('path', '=', path).execute();
  }
}
