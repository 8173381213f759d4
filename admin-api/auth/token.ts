/** `POST /sapi/token`: OAuth2-style password and refresh_token grants (JSON or form body). */
import { z } from 'zod';
import type { TokenService } from '../../shared/auth/jwt';
import type { User, Users } from '../../shared/model/users';
import type { ApiRegistry } from '../api';
import { ApiError } from '../errors';

const tokenBody = z.discriminatedUnion('grant_type', [
  z.object({
    grant_type: z.literal('password'),
    username: z.string().min(1),
    password: z.string().min(1),
    domain: z.string().min(1).optional(),
  }),
  z.object({ grant_type: z.literal('refresh_token'), refresh_token: z.string().min(1) }),
], { error: 'grant_type must be password or refresh_token' });

export function tokenRoutes(api: ApiRegistry, tokens: TokenService, users: Users, defaultDomain: string): void {
  const issue = (u: User) => {
    const claims = { sub: u.id, role: u.role, domain: u.domain, username: u.username };
    return {
      access_token: tokens.sign(claims, 'access'),
      token_type: 'Bearer',
      expires_in: tokens.accessTtl,
      refresh_token: tokens.sign(claims, 'refresh'),
      refresh_expires_in: tokens.refreshTtl,
    };
  };
  api.add({
    method: 'post', path: '/token', tag: 'auth', public: true, body: tokenBody,
    bodyTypes: ['application/x-www-form-urlencoded'],
    summary: 'Issue an access token (password grant) or renew it (refresh_token grant)',
    responses: { 200: 'tokens', 400: 'malformed request', 401: 'wrong credentials or refresh token' },
    async handler({ body }) {
      if (body.grant_type === 'refresh_token') {
        const claims = tokens.verify(body.refresh_token, 'refresh');
        const user = claims ? await users.get(claims.sub) : null;
        if (!user) throw new ApiError(401, 'invalid_grant', 'invalid or expired refresh token');
        return { body: issue(user) };
      }
      const user = await users.findByName(body.domain ?? defaultDomain, body.username);
      // One answer, in the same time, for unknown users and wrong passwords: no user enumeration.
      if (!(await users.verifyPassword(user?.id ?? '', body.password)) || !user) {
        throw new ApiError(401, 'invalid_grant', 'invalid username or password');
      }
      return { body: issue(user) };
    },
  });
}
