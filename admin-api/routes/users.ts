/** `/sapi/users`: admins manage everyone; a user reads and edits itself; anonymous reads its own profile. */
import { z } from 'zod';
import type { Users } from '../../shared/model/users';
import type { ApiRegistry } from '../api';
import { isAdmin, requireSelfOrAdmin } from '../auth/bearer';
import { ApiError } from '../errors';
import { applyList, listQuery, orderField } from '../list';
import { userFields } from '../schemas';

export const userCreateBody = z.strictObject({
  domain: z.string().max(253).optional(),
  username: z.string().min(1).max(128).regex(/^[^\s:@]+$/, 'must not contain spaces, ":" or "@"'),
  ...userFields,
});

const userUpdateBody = z.strictObject(userFields);

const ORDERABLE = ['username', 'domain', 'email', 'role', 'createdAt'] as const;

export interface UserRouteDeps {
  users: Users;
  defaultDomain: string;
  /** Whether a domain exists (the default one always does). */
  domainExists(name: string): Promise<boolean>;
}

export function userRoutes(api: ApiRegistry, deps: UserRouteDeps): void {
  const { users } = deps;

  api.add({
    method: 'get', path: '/users', tag: 'users', roles: ['admin'], summary: 'List users',
    query: listQuery.extend({ order: orderField([...ORDERABLE]), domain: z.string().optional(), role: z.string().optional() }),
    responses: { 200: '{total, items}', 400: 'bad query', 401: 'no token', 403: 'not admin' },
    async handler({ query }) {
      let all = await users.list();
      if (query.domain) all = all.filter((u) => u.domain === query.domain);
      if (query.role) all = all.filter((u) => u.role === query.role);
      return { body: applyList(all, query, ['username', 'email', 'alias', 'domain'], [...ORDERABLE]) };
    },
  });

  api.add({
    method: 'get', path: '/users/me', tag: 'users', summary: 'The caller\'s own profile',
    responses: { 200: 'user', 401: 'no token' },
    async handler({ auth }) {
      return { body: await users.get(auth.sub) };
    },
  });

  api.add({
    method: 'get', path: '/users/:id', tag: 'users', summary: 'Get a user',
    responses: { 200: 'user', 403: 'not yourself', 404: 'no such user' },
    async handler({ auth, params }) {
      requireSelfOrAdmin(auth, params.id);
      const user = await users.get(params.id);
      if (!user) throw new ApiError(404, 'not_found', `user ${params.id} does not exist`);
      return { body: user };
    },
  });

  api.add({
    method: 'post', path: '/users', tag: 'users', roles: ['admin'], body: userCreateBody,
    summary: 'Create a user (domain defaults to the server domain)',
    responses: { 201: 'created user', 400: 'invalid body', 404: 'unknown domain', 409: 'username taken in the domain' },
    async handler({ body }) {
      const domain = body.domain || deps.defaultDomain;
      if (!(await deps.domainExists(domain))) throw new ApiError(404, 'not_found', `domain ${domain} does not exist`, { field: 'domain' });
      const user = await users.create({ ...body, domain });
      return { status: 201, body: user, headers: { Location: `/sapi/users/${user.id}` } };
    },
  });

  api.add({
    method: 'put', path: '/users/:id', tag: 'users', roles: ['admin', 'user'], body: userUpdateBody,
    summary: 'Update a user (only the fields sent change; role and capabilities are admin-only)',
    responses: { 200: 'updated user', 400: 'invalid body', 403: 'not allowed', 404: 'no such user' },
    async handler({ auth, params, body }) {
      requireSelfOrAdmin(auth, params.id);
      if (!isAdmin(auth) && (body.role !== undefined || body.capabilities !== undefined)) {
        throw new ApiError(403, 'forbidden', 'only an admin may change role or capabilities');
      }
      return { body: await users.update(params.id, body) };
    },
  });

  api.add({
    method: 'delete', path: '/users/:id', tag: 'users', roles: ['admin'],
    summary: 'Delete a user; its SIP mappings are removed (identities back to the pool), credentials stay',
    responses: { 204: 'deleted', 403: 'not admin', 404: 'no such user' },
    async handler({ params }) {
      await users.delete(params.id);
      return {};
    },
  });
}
