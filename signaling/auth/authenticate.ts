/**
 * Authentication of a SIP request: MD5 digest against the users' stored HA1, or a bearer JWT from
 * the admin API (JsSIP's `authorization_jwt` sends `Authorization: Bearer <jwt>` on every request).
 */
import type { TokenService } from '../../shared/auth/jwt';
import { SipRequest } from '../sip/message';
import { DigestAuthenticator, parseDigest } from './digest';

export interface Credentials {
  ha1(realm: string, username: string): Promise<string | null>;
  exists(realm: string, username: string): Promise<boolean>;
}

export type AuthResult = { ok: true; username: string } | { ok: false; stale: boolean };

export class RequestAuthenticator {
  constructor(
    readonly digest: DigestAuthenticator,
    private readonly credentials: Credentials,
    readonly realm: string,
    private readonly tokens?: TokenService,
  ) {}

  /** Checks digest credentials for our realm in `headerKey`, or a bearer token in Authorization. */
  async check(req: SipRequest, headerKey: 'authorization' | 'proxy-authorization'): Promise<AuthResult> {
    let stale = false;
    for (const value of req.getAll(headerKey)) {
      const c = parseDigest(value);
      if (!c || c.realm !== this.realm || c.uri !== req.uri) continue;
      const ha1 = await this.credentials.ha1(this.realm, c.username);
      if (!ha1) continue;
      const verdict = this.digest.verify(c, req.method, ha1);
      if (verdict === 'ok') return { ok: true, username: c.username };
      if (verdict === 'stale') stale = true;
    }
    const bearer = this.bearer(req);
    if (bearer && (await this.credentials.exists(this.realm, bearer))) return { ok: true, username: bearer };
    return { ok: false, stale };
  }

  private bearer(req: SipRequest): string | null {
    if (!this.tokens) return null;
    for (const value of req.getAll('authorization')) {
      const m = /^Bearer\s+(\S+)$/i.exec(value.trim());
      if (!m) continue;
      const claims = this.tokens.verify(m[1], 'access');
      if (claims && claims.domain === this.realm && claims.role !== 'anonymous') return claims.username;
    }
    return null;
  }

  challenge(stale: boolean): string {
    return this.digest.challenge(this.realm, stale);
  }
}
