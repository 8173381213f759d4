/**
 * Access and refresh tokens: JWTs signed with HS256 and verified with HS256 only, so neither
 * `alg: none` nor a swapped algorithm is ever accepted. Used by the admin API and, as
 * `Authorization: Bearer`, by the SIP side.
 */
import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Role } from '../model/users';
import type { Store } from '../store/store';
import { keys } from '../store/keys';

export interface TokenClaims {
  /** user id */
  sub: string;
  role: Role;
  domain: string;
  username: string;
  typ: 'access' | 'refresh';
}

const ALG = 'HS256' as const;

export class TokenService {
  constructor(
    private readonly secret: string,
    readonly accessTtl: number,
    readonly refreshTtl: number,
  ) {}

  /**
   * The secret from wac.ini, or one generated on first start and kept in the store so that tokens
   * survive restarts and are valid on every node sharing the store.
   */
  static async open(store: Store, configured: string | undefined, accessTtl: number, refreshTtl: number): Promise<TokenService> {
    let secret = configured;
    if (!secret) {
      const fresh = randomBytes(32).toString('base64url');
      await store.write([{ op: 'set', key: keys.jwtSecret(), value: fresh }], { absent: [keys.jwtSecret()] });
      secret = (await store.get(keys.jwtSecret()))!;
    }
    return new TokenService(secret, accessTtl, refreshTtl);
  }

  sign(claims: Omit<TokenClaims, 'typ'>, typ: TokenClaims['typ']): string {
    return jwt.sign({ ...claims, typ }, this.secret, {
      algorithm: ALG,
      expiresIn: typ === 'access' ? this.accessTtl : this.refreshTtl,
    });
  }

  /** The claims of a valid, unexpired token of the wanted type, else null. */
  verify(token: string, typ: TokenClaims['typ']): TokenClaims | null {
    try {
      const c = jwt.verify(token, this.secret, { algorithms: [ALG] }) as TokenClaims;
      return c.typ === typ && typeof c.sub === 'string' ? c : null;
    } catch {
      return null;
    }
  }
}
