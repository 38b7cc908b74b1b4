import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { newId } from '../core/ids.js';

export interface AccessClaims {
  userId: string;
  familyId: string;
  jti: string;
  expiresAt: number;
}

/** How many verified access tokens are remembered (a few MB at most). */
const VERIFIED_TOKENS_KEPT = 10_000;

/** Access tokens are HS256 JWTs; `fam` names the refresh family so logout can revoke both. */
export class AccessTokenCodec {
  /** Imported once: given the raw bytes, jose imports the key again on every request (~30 µs). */
  private readonly key: Promise<webcrypto.CryptoKey>;
  /**
   * Tokens whose signature held, by their exact text, oldest first: a client sends the same token
   * with every request until it expires, and checking it again costs ~50 µs. Expiry is still
   * checked on every use; revocation is the family's, read on every request by the caller.
   */
  private readonly verified = new Map<string, AccessClaims>();

  constructor(
    secret: Uint8Array,
    private readonly ttlSeconds: number,
  ) {
    this.key = webcrypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    // An unusable secret fails each sign and verify that awaits it, as before, not the process.
    this.key.catch(() => {});
  }

  async sign(userId: string, familyId: string): Promise<{ token: string; expiresIn: number }> {
    const token = await new SignJWT({ fam: familyId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setJti(newId())
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + this.ttlSeconds)
      .sign(await this.key);
    return { token, expiresIn: this.ttlSeconds };
  }

  /** Verifies signature and expiry with no clock tolerance; null when invalid for any reason. */
  async verify(token: string): Promise<AccessClaims | null> {
    const known = this.verified.get(token);
    if (known) return known.expiresAt > Math.floor(Date.now() / 1000) ? known : null;
    try {
      const { payload } = await jwtVerify(token, await this.key, { algorithms: ['HS256'], clockTolerance: 0 });
      if (typeof payload.sub !== 'string' || typeof payload.fam !== 'string' || typeof payload.jti !== 'string' || typeof payload.exp !== 'number') return null;
      const claims = { userId: payload.sub, familyId: payload.fam, jti: payload.jti, expiresAt: payload.exp };
      if (this.verified.size >= VERIFIED_TOKENS_KEPT) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, claims);
      return claims;
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) return null;
      throw error;
    }
  }
}

/** Opaque random secrets (refresh tokens, stream tickets) are stored only as their SHA-256. */
export const newOpaqueToken = (): string => randomBytes(32).toString('base64url');
export const hashOpaqueToken = (token: string): string => createHash('sha256').update(token).digest('hex');
