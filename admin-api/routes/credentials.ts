/**
 * `/sapi/credentials`: admins manage everyone's credentials; a user only its own (others' are 404);
 * anonymous nothing. No response ever carries a password or other secret.
 */
import { z } from 'zod';
import { Credential, Credentials } from '../../shared/model/credentials';
import type { Users } from '../../shared/model/users';
import type { Store } from '../../shared/store/store';
import type { TokenClaims } from '../../shared/auth/jwt';
import type { ApiRegistry } from '../api';
import { isAdmin } from '../auth/bearer';
import { ApiError, zodToApiError } from '../errors';
import { applyList, listQuery, orderField } from '../list';

const secret = z.string().min(1).max(1024);
const nonEmpty = z.string().min(1).max(1024);

const iceServer = z.union([
  nonEmpty,
  z.strictObject({ urls: z.union([nonEmpty, z.array(nonEmpty).min(1).max(20)]), username: z.string().max(256).optional(), credential: z.string().max(1024).optional() }),
]);

const basicData = z.strictObject({ password: secret });
const imsData = z.strictObject({
  username: nonEmpty,
  userauthname: nonEmpty,
  password: secret,
  authserver: nonEmpty,
  iceserver: z.array(iceServer).max(50).default([]),
});
/** On update the ims password may be left out to keep the current one. */
const imsUpdateData = imsData.extend({ password: secret.optional() });

const common = {
  source: z.string().min(1).max(128).default('wac'),
  context: z.record(z.string(), z.unknown()).default({}),
  domain: z.string().min(1).max(253).optional(),
  user: z.string().min(1).max(128).optional(),
  lease: z.number().int().min(0).max(10 * 365 * 24 * 3600).default(0),
};

export const credentialCreateBody = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('basic'), ...common, data: basicData }),
  z.strictObject({ type: z.literal('ims'), ...common, data: imsData }),
]);

const credentialUpdateBody = z.strictObject({
  source: z.string().min(1).max(128).optional(),
  context: z.record(z.string(), z.unknown()).optional(),
  lease: z.number().int().min(0).max(10 * 365 * 24 * 3600).optional(),
  /** Checked against the credential's own type in the handler. */
  data: z.record(z.string(), z.unknown()).optional(),
});

const ORDERABLE = ['createdAt', 'updatedAt', 'type', 'source', 'domain', 'user'] as const;

export interface CredentialRouteDeps {
  store: Store;
  users: Users;
  defaultDomain: string;
}

export function credentialRoutes(api: ApiRegistry, deps: CredentialRouteDeps): Credentials {
  const { users } = deps;
  const credentials = new Credentials(deps.store, users);

  /** The credential if the caller may see it; someone else's is reported as missing, not forbidden. */
  const visible = async (auth: TokenClaims, id: string): Promise<Credential> => {
    const c = await credentials.get(id);
    if (!c || (!isAdmin(auth) && c.user !== auth.sub)) throw new ApiError(404, 'not_found', `credential ${id} does not exist`);
    return c;
  };

  api.add({
    method: 'get', path: '/credentials', tag: 'credentials', roles: ['admin', 'user'],
    summary: 'List credentials (an admin sees all, a user its own); filter by user and type',
    query: listQuery.extend({ order: orderField([...ORDERABLE]), user: z.string().optional(), type: z.enum(['basic', 'ims']).optional() }),
    responses: { 200: '{total, items}', 400: 'bad query', 401: 'no token', 403: 'anonymous, or another user\'s credentials' },
    async handler({ auth, query }) {
      if (!isAdmin(auth) && query.user !== undefined && query.user !== auth.sub) {
        throw new ApiError(403, 'forbidden', 'you may only list your own credentials');
      }
      const userId = isAdmin(auth) ? query.user : auth.sub;
      let all = userId === undefined ? await credentials.list() : await credentials.listByUser(userId);
      if (query.type) all = all.filter((c) => c.type === query.type);
      return { body: applyList(all, query, ['source', 'type', 'domain'], [...ORDERABLE]) };
    },
  });

  api.add({
    method: 'get', path: '/credentials/:id', tag: 'credentials', roles: ['admin', 'user'],
    summary: 'Get a credential (without its secrets)',
    responses: { 200: 'credential', 401: 'no token', 403: 'anonymous', 404: 'no such credential (or not yours)' },
    async handler({ auth, params }) {
      return { body: await visible(auth, params.id) };
    },
  });

  api.add({
    method: 'post', path: '/credentials', tag: 'credentials', roles: ['admin', 'user'], body: credentialCreateBody,
    summary: 'Add a credential: basic (the user\'s password) or ims; user defaults to the caller, domain to the user\'s domain',
    responses: { 201: 'created credential', 400: 'invalid body', 401: 'no token', 403: 'another user\'s, or anonymous', 404: 'unknown user', 409: 'the user already has a basic credential' },
    async handler({ auth, body }) {
      const userId = body.user ?? auth.sub;
      if (!isAdmin(auth) && userId !== auth.sub) throw new ApiError(403, 'forbidden', 'you may only add credentials to yourself');
      const user = await users.get(userId);
      if (!user) throw new ApiError(404, 'not_found', `user ${userId} does not exist`, { field: 'user' });
      const credential = await credentials.create({ ...body, user: user.id, domain: body.domain ?? user.domain ?? deps.defaultDomain });
      return { status: 201, body: credential, headers: { Location: `/sapi/credentials/${credential.id}` } };
    },
  });

  api.add({
    method: 'put', path: '/credentials/:id', tag: 'credentials', roles: ['admin', 'user'], body: credentialUpdateBody,
    summary: 'Update a credential\'s lease, source, context or data (type, user and domain cannot change)',
    responses: { 200: 'updated credential', 400: 'invalid body', 401: 'no token', 403: 'anonymous', 404: 'no such credential (or not yours)' },
    async handler({ auth, params, body }) {
      const current = await visible(auth, params.id);
      let data: z.output<typeof basicData> | z.output<typeof imsUpdateData> | undefined;
      if (body.data !== undefined) {
        const schema = z.object({ data: current.type === 'basic' ? basicData : imsUpdateData });
        const r = schema.safeParse({ data: body.data });
        if (!r.success) throw zodToApiError(r.error, 'body');
        data = r.data.data;
      }
      return { body: await credentials.update(current.id, { ...body, data }) };
    },
  });

  api.add({
    method: 'delete', path: '/credentials/:id', tag: 'credentials', roles: ['admin', 'user'],
    summary: 'Delete a credential; deleting a basic credential removes the user\'s password',
    responses: { 204: 'deleted', 401: 'no token', 403: 'anonymous', 404: 'no such credential (or not yours)' },
    async handler({ auth, params }) {
      await credentials.delete((await visible(auth, params.id)).id);
      return {};
    },
  });

  return credentials;
}
