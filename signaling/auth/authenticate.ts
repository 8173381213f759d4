/** Digest authentication of a SIP request against the users' stored HA1. */
import { SipRequest } from '../sip/message';
import { DigestAuthenticator, parseDigest } from './digest';

export type Ha1Lookup = (realm: string, username: string) => Promise<string | null>;

export type AuthResult = { ok: true; username: string } | { ok: false; stale: boolean };

export class RequestAuthenticator {
  constructor(readonly digest: DigestAuthenticator, private readonly ha1: Ha1Lookup, readonly realm: string) {}

  /** Finds the credentials for our realm in `headerKey` (authorization / proxy-authorization) and checks them. */
  async check(req: SipRequest, headerKey: 'authorization' | 'proxy-authorization'): Promise<AuthResult> {
    let stale = false;
    for (const value of req.getAll(headerKey)) {
      const c = parseDigest(value);
      if (!c || c.realm !== this.realm || c.uri !== req.uri) continue;
      const ha1 = await this.ha1(this.realm, c.username);
      if (!ha1) continue;
      const verdict = this.digest.verify(c, req.method, ha1);
      if (verdict === 'ok') return { ok: true, username: c.username };
      if (verdict === 'stale') stale = true;
    }
    return { ok: false, stale };
  }

  challenge(stale: boolean): string {
    return this.digest.challenge(this.realm, stale);
  }
}
