/**
 * `/sapi/sipMappings`: SIP identities bound to a user or a group. Admins create, change and delete
 * them; a user reads the mappings it owns. The SIP password is never returned.
 */
import { z } from 'zod';
import { OWNER_URI, SIP_USERNAME, SipMapping, SipMappings } from '../../shared/model/sip-mappings';
import type { Store } from '../../shared/store/store';
import type { TokenClaims } from '../../shared/auth/jwt';
import type { ApiRegistry } from '../api';
import { isAdmin } from '../auth/bearer';
import { ApiError } from '../errors';
import { applyList, listQuery, orderField } from '../list';

const ownerUri = z.string().regex(OWNER_URI, 'must be wac-user:<id> or wac-group:<id>');
const sipUsername = z.string().regex(SIP_USERNAME, 'must be 1 to 128 letters, digits or . _ - +');
/** Empty = no password. */
const sipPassword = z.string().max(256);

export const sipMappingCreateBody = z.strictObject({
  ownerUri,
  credential: z.strictObject({ username: sipUsername, password: sipPassword.optional() }),
});

const sipMappingUpdateBody = z
  .strictObject({
    ownerUri: ownerUri.optional(),
    credential: z.strictObject({ username: sipUsername.optional(), password: sipPassword.optional() }).optional(),
  })
  .refine((b) => b.ownerUri !== undefined || b.credential !== undefined, { message: 'give ownerUri and/or credential' });

const ORDERABLE = ['username', 'ownerUri', 'createdAt', 'updatedAt'] as const;

export interface SipMappingRouteDeps {
  store: Store;
  /** The digest realm of SIP passwords. */
  defaultDomain: string;
}

export function sipMappingRoutes(api: ApiRegistry, deps: SipMappingRouteDeps): SipMappings {
  const mappings = new SipMappings(deps.store, { realm: deps.defaultDomain });
  const own = (auth: TokenClaims) => `wac-user:${auth.sub}`;

  api.add({
    method: 'get', path: '/sipMappings', tag: 'sipMappings', roles: ['admin', 'user'],
    summary: 'List SIP mappings, or those of one owner (?owner=wac-user:<id>); a user sees only its own',
    query: listQuery.extend({ order: orderField([...ORDERABLE]), owner: ownerUri.optional() }),
    responses: { 200: '{total, items}', 400: 'bad query', 401: 'no token', 403: 'anonymous, or another owner\'s mappings' },
    async handler({ auth, query }) {
      if (!isAdmin(auth) && query.owner !== undefined && query.owner !== own(auth)) {
        throw new ApiError(403, 'forbidden', 'you may only list your own SIP mappings');
      }
      const owner = isAdmin(auth) ? query.owner : own(auth);
      const all = owner === undefined ? await mappings.list() : await mappings.byOwner(owner);
      // Search and order by the SIP username, which is nested.
      const flat = all.map((m) => ({ ...m, username: m.credential.username }));
      const page = applyList(flat, query, ['username', 'ownerUri'], [...ORDERABLE]);
      return { body: { total: page.total, items: page.items.map(({ username: _u, ...m }): SipMapping => m) } };
    },
  });

  api.add({
    method: 'get', path: '/sipMappings/:id', tag: 'sipMappings', roles: ['admin', 'user'],
    summary: 'Get a SIP mapping (a user only its own)',
    responses: { 200: 'SIP mapping', 401: 'no token', 403: 'anonymous', 404: 'no such mapping (or not yours)' },
    async handler({ auth, params }) {
      const m = await mappings.get(params.id);
      if (!m || (!isAdmin(auth) && m.ownerUri !== own(auth))) throw new ApiError(404, 'not_found', `SIP mapping ${params.id} does not exist`);
      return { body: m };
    },
  });

  api.add({
    method: 'post', path: '/sipMappings', tag: 'sipMappings', roles: ['admin'], body: sipMappingCreateBody,
    summary: 'Map a SIP identity to a user or group (SIP username unique)',
    responses: { 201: 'created mapping', 400: 'invalid body', 401: 'no token', 403: 'not admin', 404: 'owner does not exist', 409: 'SIP username already mapped' },
    async handler({ body }) {
      const m = await mappings.create(body);
      return { status: 201, body: m, headers: { Location: `/sapi/sipMappings/${m.id}` } };
    },
  });

  api.add({
    method: 'put', path: '/sipMappings/:id', tag: 'sipMappings', roles: ['admin'], body: sipMappingUpdateBody,
    summary: 'Change the owner and/or the SIP identity of a mapping',
    responses: { 200: 'updated mapping', 400: 'invalid body', 401: 'no token', 403: 'not admin', 404: 'no such mapping or owner', 409: 'SIP username already mapped' },
    async handler({ params, body }) {
      return { body: await mappings.update(params.id, body) };
    },
  });

  api.add({
    method: 'delete', path: '/sipMappings/:id', tag: 'sipMappings', roles: ['admin'],
    summary: 'Remove a SIP mapping (its SIP identity becomes available again)',
    responses: { 204: 'deleted', 401: 'no token', 403: 'not admin', 404: 'no such mapping' },
    async handler({ params }) {
      await mappings.delete(params.id);
      return {};
    },
  });

  return mappings;
}
