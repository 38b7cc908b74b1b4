import type { Config } from '../config/schema.js';
import { conflict, rateLimited, unauthorized } from '../core/errors.js';
import { isoAfter, isoNow, newId } from '../core/ids.js';
import type { UserRow } from '../store/schema.js';
import type { Store } from '../store/store.js';
import type { User } from '../schemas/user.js';
import { TokenFamilyCache } from './family-cache.js';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';
import { type AccessClaims, AccessTokenCodec, hashOpaqueToken, newOpaqueToken } from './tokens.js';

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'bearer';
  expires_in: number;
}

export interface AuthResult extends TokenPair {
  user: User;
  default_workspace_id: string;
}

export const LOCAL_USER_EMAIL = 'local@tokendance.local';

export const presentUser = (row: UserRow): User => ({
  id: row.id,
  email: row.email,
  username: row.username,
  created_at: row.created_at,
});

export class AuthService {
  private readonly codec: AccessTokenCodec;
  /** Absent when another process may revoke (scale-out): then every request reads its family. */
  private readonly families?: TokenFamilyCache;

  constructor(
    private readonly store: Store,
    private readonly config: Config['auth'],
    secret: Uint8Array,
    options: { onlyRevoker?: boolean } = {},
  ) {
    this.codec = new AccessTokenCodec(secret, config.access_token_ttl_s);
    if (options.onlyRevoker) this.families = new TokenFamilyCache();
  }

  async register(input: { email: string; password: string; username?: string }): Promise<AuthResult> {
    const email = input.email.trim().toLowerCase();
    if (await this.store.users.findByEmail(email)) throw conflict('Email is already registered');
    const now = isoNow();
    const user: UserRow = {
      id: newId(),
      email,
      username: input.username ?? email.split('@')[0]!,
      password_hash: await hashPassword(input.password),
      created_at: now,
    };
    try {
      await this.store.users.create(user);
    } catch (error) {
      // Two registrations racing for one email: the unique index decides.
      if (await this.store.users.findByEmail(email)) throw conflict('Email is already registered');
      throw error;
    }
    const workspaceId = await this.createDefaultWorkspace(user);
    return { ...(await this.issueTokens(user.id)), user: presentUser(user), default_workspace_id: workspaceId };
  }

  async login(input: { email: string; password: string }, ip: string): Promise<AuthResult> {
    const email = input.email.trim().toLowerCase();
    const subjects = [`email:${email}`, `ip:${ip}`];
    await this.assertLoginAllowed(subjects);
    const user = await this.store.users.findByEmail(email);
    const valid = user
      ? await verifyPassword(input.password, user.password_hash)
      : await verifyPassword(input.password, await decoyHash).then(() => false);
    if (!user || !valid || email === LOCAL_USER_EMAIL) {
      await this.store.tokens.recordLoginFailure(subjects, isoNow());
      throw unauthorized('Invalid email or password');
    }
    await this.store.tokens.clearLoginFailures(`email:${email}`);
    const workspace = await this.store.workspaces.defaultFor(user.id);
    return {
      ...(await this.issueTokens(user.id)),
      user: presentUser(user),
      default_workspace_id: workspace?.id ?? (await this.createDefaultWorkspace(user)),
    };
  }

  /** Rotates a refresh token. Reusing a spent one revokes its whole family (theft detection). */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const row = await this.store.tokens.findRefreshToken(hashOpaqueToken(refreshToken));
    if (!row) throw unauthorized('Invalid refresh token');
    const family = await this.store.tokens.findFamily(row.family_id);
    if (!family || family.revoked_at) throw unauthorized('Refresh token has been revoked');
    const now = isoNow();
    if (row.used_at || !(await this.store.tokens.spendRefreshToken(row.id, now))) {
      await this.revokeFamily(row.family_id, now, 'refresh token reuse');
      throw unauthorized('Refresh token was already used; all sessions of this login are revoked');
    }
    if (row.expires_at <= now) throw unauthorized('Refresh token has expired');
    return this.issueTokens(family.user_id, family.id);
  }

  /** Ends the login of this access token (and of the given refresh token, if it is the user's). */
  async logout(claims: AccessClaims, refreshToken?: string): Promise<void> {
    const now = isoNow();
    await this.revokeFamily(claims.familyId, now, 'logout');
    if (refreshToken) {
      const row = await this.store.tokens.findRefreshToken(hashOpaqueToken(refreshToken));
      const family = row && (await this.store.tokens.findFamily(row.family_id));
      if (family && family.user_id === claims.userId) await this.revokeFamily(family.id, now, 'logout');
    }
  }

  private async revokeFamily(familyId: string, at: string, reason: string): Promise<void> {
    this.families?.forget(familyId);
    try {
      await this.store.tokens.revokeFamily(familyId, at, reason);
    } finally {
      this.families?.forget(familyId);
    }
  }

  /** Resolves a bearer access token; revoked families fail at once, not at expiry. */
  async authenticate(token: string): Promise<AccessClaims> {
    const claims = await this.codec.verify(token);
    if (!claims) throw unauthorized('Invalid or expired access token');
    if (this.families?.userOf(claims.familyId) === claims.userId) return claims;
    const epoch = this.families?.readStarted();
    const family = await this.store.tokens.findFamily(claims.familyId);
    if (!family || family.revoked_at || family.user_id !== claims.userId) throw unauthorized('Access token has been revoked');
    this.families?.remember(family.id, family.user_id, epoch!);
    return claims;
  }

  async issueStreamTicket(userId: string): Promise<{ ticket: string; expires_in: number }> {
    const ticket = newOpaqueToken();
    const ttl = this.config.stream_ticket_ttl_s;
    await this.store.tokens.insertTicket({ ticket_hash: hashOpaqueToken(ticket), user_id: userId, created_at: isoNow(), expires_at: isoAfter(ttl) });
    return { ticket, expires_in: ttl };
  }

  async redeemStreamTicket(ticket: string): Promise<string> {
    const userId = await this.store.tokens.spendTicket(hashOpaqueToken(ticket), isoNow());
    if (!userId) throw unauthorized('Invalid, used or expired stream ticket');
    return userId;
  }

  async me(userId: string): Promise<User> {
    const user = await this.store.users.findById(userId);
    if (!user) throw unauthorized('User no longer exists');
    return presentUser(user);
  }

  /** The built-in user that local mode acts as; it cannot log in with a password. */
  async ensureLocalUser(): Promise<UserRow> {
    const existing = await this.store.users.findByEmail(LOCAL_USER_EMAIL);
    if (existing) return existing;
    const user: UserRow = {
      id: newId(),
      email: LOCAL_USER_EMAIL,
      username: 'local',
      password_hash: 'disabled',
      created_at: isoNow(),
    };
    try {
      await this.store.users.create(user);
      await this.createDefaultWorkspace(user);
      return user;
    } catch (error) {
      // Another process created it first.
      const raced = await this.store.users.findByEmail(LOCAL_USER_EMAIL);
      if (raced) return raced;
      throw error;
    }
  }

  async pruneExpired(): Promise<void> {
    await this.store.tokens.prune(isoNow(), isoAfter(-this.config.login_window_s));
  }

  private async assertLoginAllowed(subjects: string[]): Promise<void> {
    const windowS = this.config.login_window_s;
    const since = isoAfter(-windowS);
    const limits = [this.config.login_max_failures_per_email, this.config.login_max_failures_per_ip];
    for (const [index, subject] of subjects.entries()) {
      const { count, oldest } = await this.store.tokens.countLoginFailures(subject, since);
      if (count >= limits[index]!) {
        const retryAfter = oldest ? Math.max(1, Math.ceil((Date.parse(oldest) + windowS * 1000 - Date.now()) / 1000)) : windowS;
        throw rateLimited('Too many failed login attempts; try again later', retryAfter);
      }
    }
  }

  private async createDefaultWorkspace(user: UserRow): Promise<string> {
    const id = newId();
    await this.store.workspaces.create({ id, name: `${user.username}'s workspace`, owner_id: user.id, created_at: isoNow(), tool_policy: null });
    return id;
  }

  private async issueTokens(userId: string, familyId?: string): Promise<TokenPair> {
    const now = Date.now();
    if (!familyId) {
      familyId = newId();
      await this.store.tokens.createFamily({ id: familyId, user_id: userId, created_at: isoNow() });
    }
    const refreshToken = newOpaqueToken();
    await this.store.tokens.insertRefreshToken({
      id: newId(),
      family_id: familyId,
      token_hash: hashOpaqueToken(refreshToken),
      created_at: new Date(now).toISOString(),
      expires_at: isoAfter(this.config.refresh_token_ttl_s, now),
      used_at: null,
    });
    const access = await this.codec.sign(userId, familyId);
    return { access_token: access.token, refresh_token: refreshToken, token_type: 'bearer', expires_in: access.expiresIn };
  }
}
