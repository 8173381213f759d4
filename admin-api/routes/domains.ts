/**
 * `/sapi/domains` (admin only). The default domain ([server] domain) always exists and cannot be
 * removed or renamed (403); a name is unique (409); a domain with users or child domains cannot be
 * removed (409).
 */
import { z } from 'zod';
import type { Domains } from '../../shared/model/domains';
import type { ApiRegistry } from '../api';
import { applyList, listQuery, orderField } from '../list';
import { stringList } from '../schemas';

const fields = {
  parent: z.string().min(1).max(128).nullable().optional(),
  origins: z.array(z.string().min(1).max(512)).max(100).optional(),
  enableAnonymous: z.boolean().optional(),
  anonymousExpiration: z.number().int().min(0).max(10 * 365 * 86400).optional(),
  anonymousCapabilities: stringList.optional(),
};
const domainName = z.string().min(1).max(253).regex(/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'must be a domain name (letters, digits, "." and "-")');

const domainCreateBody = z.strictObject({ domain: domainName, ...fields });
const domainUpdateBody = z.strictObject({ domain: domainName.optional(), ...fields });

const ORDERABLE = ['domain', 'createdAt', 'updatedAt'] as const;

export function domainRoutes(api: ApiRegistry, deps: { domains: Domains }): void {
  const { domains } = deps;

  api.add({
    method: 'get', path: '/domains', tag: 'domains', roles: ['admin'], summary: 'List domains',
    query: listQuery.extend({ order: orderField([...ORDERABLE]), domain: z.string().optional(), parent: z.string().optional() }),
    responses: { 200: '{total, items}', 400: 'bad query', 401: 'no token', 403: 'not admin' },
    async handler({ query }) {
      let all = await domains.list();
      if (query.domain) all = all.filter((d) => d.domain === query.domain);
      if (query.parent) all = all.filter((d) => (query.parent === 'null' ? d.parent === null : d.parent === query.parent));
      return { body: applyList(all, query, ['domain'], [...ORDERABLE]) };
    },
  });

  api.add({
    method: 'get', path: '/domains/:id', tag: 'domains', roles: ['admin'], summary: 'Get a domain',
    responses: { 200: 'domain', 403: 'not admin', 404: 'no such domain' },
    async handler({ params }) {
      return { body: await domains.require(params.id) };
    },
  });

  api.add({
    method: 'post', path: '/domains', tag: 'domains', roles: ['admin'], body: domainCreateBody,
    summary: 'Create a domain',
    responses: { 201: 'created domain', 400: 'invalid body', 403: 'not admin', 404: 'no such parent', 409: 'name taken' },
    async handler({ body }) {
      const d = await domains.create(body);
      return { status: 201, body: d, headers: { Location: `/sapi/domains/${d.id}` } };
    },
  });

  api.add({
    method: 'put', path: '/domains/:id', tag: 'domains', roles: ['admin'], body: domainUpdateBody,
    summary: 'Update a domain (the fields sent change; the default domain cannot be renamed or given a parent)',
    responses: { 200: 'updated domain', 400: 'invalid body or parent cycle', 403: 'not admin / default domain', 404: 'no such domain or parent', 409: 'name taken / renaming a domain with users' },
    async handler({ params, body }) {
      return { body: await domains.update(params.id, body) };
    },
  });

  api.add({
    method: 'delete', path: '/domains/:id', tag: 'domains', roles: ['admin'],
    summary: 'Delete a domain (not the default one, not one with users or child domains)',
    responses: { 204: 'deleted', 403: 'not admin / the default domain', 404: 'no such domain', 409: 'has users or child domains' },
    async handler({ params }) {
      await domains.delete(params.id);
      return {};
    },
  });
}
