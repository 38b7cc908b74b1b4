import type { Kysely, Selectable } from 'kysely';
import { PreparedQueries } from '../prepared.js';
import type { Database, RefreshTokensTable, TokenFamiliesTable } from '../schema.js';

export type RefreshTokenRow = Selectable<RefreshTokensTable>;
export type TokenFamilyRow = Selectable<TokenFamiliesTable>;

/** Token families, refresh tokens, stream tickets and login-failure records. */
export class TokensRepository {
  /** Every authenticated request reads its token family: compiled once (prepared.ts). */
  private readonly prepared: PreparedQueries<Database>;

  constructor(private readonly db: Kysely<Database>) {
    this.prepared = new PreparedQueries(db);
  }

  async createFamily(family: { id: string; user_id: string; created_at: string }): Promise<void> {
    await this.db.insertInto('token_families').values({ ...family, revoked_at: null, revoked_reason: null }).execute();
  }

  findFamily(id: string): Promise<TokenFamilyRow | undefined> {
    return this.prepared.first('tokens.findFamily', { id }, (db, v) => db.selectFrom('token_families').selectAll().where('id', '=', v.id));
  }

  async revokeFamily(id: string, at: string, reason: string): Promise<void> {
    await this.db
      .updateTable('token_families')
      .set({ revoked_at: at, revoked_reason: reason })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async insertRefreshToken(token: RefreshTokenRow): Promise<void> {
    await this.db.insertInto('refresh_tokens').values(token).execute();
  }

  findRefreshToken(tokenHash: string): Promise<RefreshTokenRow | undefined> {
    return this.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  }

  /** Marks a refresh token spent; false when it was already spent (a concurrent or replayed use). */
  async spendRefreshToken(id: string, at: string): Promise<boolean> {
    const result = await this.db
      .updateTable('refresh_tokens')
      .set({ used_at: at })
      .where('id', '=', id)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async insertTicket(ticket: { ticket_hash: string; user_id: string; created_at: string; expires_at: string }): Promise<void> {
    await this.db.insertInto('stream_tickets').values({ ...ticket, used_at: null }).execute();
  }

  /** Spends a ticket atomically; returns its user when it was unused and unexpired. */
  async spendTicket(ticketHash: string, now: string): Promise<string | undefined> {
    const row = await this.db
      .updateTable('stream_tickets')
      .set({ used_at: now })
      .where('ticket_hash', '=', ticketHash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returning('user_id')
      .executeTakeFirst();
    return row?.user_id;
  }

  async recordLoginFailure(subjects: string[], at: string): Promise<void> {
    await this.db.insertInto('login_failures').values(subjects.map((subject) => ({ subject, created_at: at }))).execute();
  }

  async countLoginFailures(subject: string, since: string): Promise<{ count: number; oldest: string | null }> {
    const row = await this.db
      .selectFrom('login_failures')
      .select((eb) => [eb.fn.countAll<number>().as('count'), eb.fn.min('created_at').as('oldest')])
      .where('subject', '=', subject)
      .where('created_at', '>', since)
      .executeTakeFirst();
    return { count: Number(row?.count ?? 0), oldest: (row?.oldest as string | null) ?? null };
  }

  async clearLoginFailures(subject: string): Promise<void> {
    await this.db.deleteFrom('login_failures').where('subject', '=', subject).execute();
  }

  /** Housekeeping: drop records that can no longer matter. */
  async prune(now: string, loginWindowStart: string): Promise<void> {
    await this.db.deleteFrom('login_failures').where('created_at', '<', loginWindowStart).execute();
    await this.db.deleteFrom('stream_tickets').where('expires_at', '<', now).execute();
    await this.db.deleteFrom('refresh_tokens').where('expires_at', '<', now).execute();
  }
}
