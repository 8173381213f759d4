/** `/sapi/users`: admins manage everyone; a user reads and edits itself; anonymous reads its own profile. */
import { z } from 'zod';
import type { Credentials } from '../../shared/model/credentials';
import { ModelError } from '../../shared/model/errors';
import { retryStale, StaleRevision, type Groups } from '../../shared/model/groups';
import { commit, mergePlans, Plan } from '../../shared/model/plan';
import type { SipMappings } from '../../shared/model/sip-mappings';
import type { Store } from '../../shared/store';
import type { Users } from '../../shared/model/users';
import type { ApiRegistry } from '../api';
import { isAdmin, requireSelfOrAdmin } from '../auth/bearer';
import { ApiError } from '../errors';
import { applyList, listQuery, orderField } from '../list';
import { userFields } from '../schemas';
import { credentialCreateBody } from './credentials';
import { sipMappingCreateBody } from './sip-mappings';

export const userCreateBody = z.strictObject({
  domain: z.string().max(253).optional(),
  username: z.string().min(1).max(128).regex(/^[^\s:@]+$/, 'must not contain spaces, ":" or "@"'),
  ...userFields,
});

/**
 * Wazo's "new way": the user plus its credentials, SIP mappings and group memberships in one request,
 * written in one atomic step — or nothing at all, with an error naming the failing part.
 */
const nestedCreateBody = userCreateBody.extend({
  credentials: z.array(z.discriminatedUnion('type', credentialCreateBody.options.map((o) => o.omit({ user: true })) as [
    typeof credentialCreateBody.options[0], typeof credentialCreateBody.options[1]])).max(10).optional(),
  sipMappings: z.array(sipMappingCreateBody.omit({ ownerUri: true })).max(10).optional(),
  groups: z.array(z.strictObject({ id: z.string().min(1).max(128) })).max(100).optional(),
});

const userUpdateBody = z.strictObject(userFields);

const ORDERABLE = ['username', 'domain', 'email', 'role', 'createdAt'] as const;

export interface UserRouteDeps {
  store: Store;
  users: Users;
  credentials: Credentials;
  sipMappings: SipMappings;
  groups: Groups;
  groupsEnabled: boolean;
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
    method: 'post', path: '/users', tag: 'users', roles: ['admin'], body: nestedCreateBody,
    summary: 'Create a user (domain defaults to the server domain), optionally with credentials[], sipMappings[] and groups[] in one atomic step',
    responses: {
      201: 'created user (with the nested objects created)', 400: 'invalid body, naming the field',
      404: 'unknown domain or group', 409: 'username or SIP username taken',
    },
    async handler({ body }) {
      const { credentials = [], sipMappings = [], groups = [], ...fields } = body;
      const domain = fields.domain || deps.defaultDomain;
      if (!(await deps.domainExists(domain))) throw new ApiError(404, 'not_found', `domain ${domain} does not exist`, { field: 'domain' });
      if (groups.length > 0 && !deps.groupsEnabled) throw new ApiError(400, 'service_disabled', 'groups: the UsersGroup service is not enabled', { field: 'groups' });
      refuseDuplicates('sipMappings', sipMappings.map((m) => m.credential.username));
      refuseDuplicates('groups', groups.map((g) => g.id));
      if (credentials.filter((c) => c.type === 'basic').length > 1) {
        throw new ApiError(400, 'invalid_request', 'credentials: at most one basic credential per user', { field: 'credentials' });
      }

      // A group changed at the same moment (its revision moved on): plan the whole creation again.
      const { user, created } = await retryStale(async () => {
        const { user, plan } = users.planCreate({ ...fields, domain });
        const plans: Plan[] = [plan];
        const created = { credentials: [] as unknown[], sipMappings: [] as unknown[], groups: [] as string[] };
        for (const [i, c] of credentials.entries()) {
          const part = await named(`credentials[${i}]`, () => deps.credentials.planCreate({ ...c, user: user.id }, { newUser: user }));
          plans.push(labelled(part.plan, `credentials[${i}]`));
          created.credentials.push(part.credential);
        }
        for (const [i, m] of sipMappings.entries()) {
          const part = await named(`sipMappings[${i}]`, () => deps.sipMappings.planCreate(m, { newUserId: user.id }));
          plans.push(labelled(part.plan, `sipMappings[${i}]`));
          created.sipMappings.push(part.mapping);
        }
        for (const [i, g] of groups.entries()) {
          plans.push(labelled(await named(`groups[${i}]`, () => deps.groups.planAddParticipant(g.id, user.id, { newUser: true })), `groups[${i}]`));
          created.groups.push(g.id);
        }
        await commit(deps.store, mergePlans(...plans));
        return { user, created };
      });
      const out = credentials.length + sipMappings.length + groups.length > 0 ? { ...user, ...created } : user;
      return { status: 201, body: out, headers: { Location: `/sapi/users/${user.id}` } };
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

function refuseDuplicates(field: string, values: string[]): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) throw new ApiError(400, 'invalid_request', `${field}: ${v} is given twice`, { field });
    seen.add(v);
  }
}

/** Runs a part of a nested creation, prefixing its errors with the part's name. */
async function named<T>(part: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof ModelError) throw relabel(err, part);
    throw err;
  }
}

/** A plan whose guard failures name the part of the request they belong to. */
function labelled(plan: Plan, part: string): Plan {
  return {
    ops: plan.ops,
    absent: plan.absent.map((c) => ({ key: c.key, error: relabel(c.error, part) })),
    present: plan.present.map((c) => ({ key: c.key, error: relabel(c.error, part) })),
  };
}

function relabel(err: ModelError, part: string): ModelError {
  // A concurrent change keeps its own type so that retryStale can recognise it and try again.
  if (err instanceof StaleRevision) return err;
  return new ModelError(err.code, `${part}: ${err.message}`, { ...err.details, part });
}
