/** `Authorization: Bearer <jwt>` → the caller's claims, re-read from the store so that a deleted user or a changed role takes effect at once. */
import type { Request } from 'express';
import type { TokenClaims, TokenService } from '../../shared/auth/jwt';
import type { Users } from '../../shared/model/users';
import { ApiError } from '../errors';

export function bearerAuthenticator(tokens: TokenService, users: Users) {
  return async (req: Request): Promise<TokenClaims> => {
    const header = req.get('authorization') ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new ApiError(401, 'unauthorized', 'missing Authorization: Bearer token');
    const claims = tokens.verify(m[1], 'access');
    if (!claims) throw new ApiError(401, 'unauthorized', 'invalid or expired token');
    const user = await users.get(claims.sub);
    if (!user) throw new ApiError(401, 'unauthorized', 'the token\'s user no longer exists');
    return { ...claims, role: user.role, domain: user.domain, username: user.username };
  };
}

export function isAdmin(auth: TokenClaims): boolean {
  return auth.role === 'admin';
}

/** Admins may act on anyone; everyone else only on themselves. */
export function requireSelfOrAdmin(auth: TokenClaims, userId: string): void {
  if (!isAdmin(auth) && auth.sub !== userId) throw new ApiError(403, 'forbidden', 'you may only act on your own user');
}

export function requireAdmin(auth: TokenClaims): void {
  if (!isAdmin(auth)) throw new ApiError(403, 'forbidden', 'admin role required');
}
