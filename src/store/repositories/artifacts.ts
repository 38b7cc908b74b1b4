import type { Kysely } from 'kysely';
import { PreparedQueries } from '../prepared.js';
import type { ArtifactRow, Database } from '../schema.js';

export class ArtifactsRepository {
  /** What every run makes on its way: compiled once (prepared.ts). */
  private readonly prepared: PreparedQueries<Database>;

  constructor(private readonly db: Kysely<Database>) {
    this.prepared = new PreparedQueries(db);
  }

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
    return this.prepared.rows('artifacts.listForRun', { runId }, (db, v) => db.selectFrom('artifacts').selectAll().where('run_id', '=', v.runId).orderBy('created_at', 'asc'));
  }

  async deleteByPath(sessionId: string, path: string): Promise<void> {
    await this.db.deleteFrom('artifacts').where('session_id', '=', sessionId).where('path', '=', path).execute();
  }
}
