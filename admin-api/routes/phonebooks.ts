/**
 * `/sapi/phonebooks`: admins manage phonebooks; a user reads those subscribed by a group it
 * participates in. Subscribers are user group ids, each of which must exist (404).
 */
import { z } from 'zod';
import { isContactAddress, Phonebooks } from '../../shared/model/phonebooks';
import type { ApiRegistry } from '../api';
import { isAdmin } from '../auth/bearer';
import { ApiError } from '../errors';
import { applyList, listQuery, orderField } from '../list';

const name = z.string().trim().min(1).max(128);
const address = z.string().min(1).max(256).refine(isContactAddress, 'must be an E.164 number (+34...), a username, username@domain or a group id');
const contact = z.strictObject({ id: z.string().min(1).max(128).optional(), name, address });
const groupId = z.string().min(1).max(128);

const phonebookCreateBody = z.strictObject({
  name,
  contacts: z.array(contact).max(10000).optional(),
  subscribers: z.array(groupId).max(10000).optional(),
});

const phonebookUpdateBody = phonebookCreateBody.partial();

const ORDERABLE = ['name', 'createdAt', 'updatedAt'] as const;

export function phonebookRoutes(api: ApiRegistry, deps: { phonebooks: Phonebooks }): void {
  const { phonebooks } = deps;

  api.add({
    method: 'get', path: '/phonebooks', tag: 'phonebooks', roles: ['admin', 'user'],
    summary: 'List phonebooks: all for an admin, those subscribed by the caller\'s groups for a user',
    query: listQuery.extend({ order: orderField([...ORDERABLE]), subscriber: z.string().optional() }),
    responses: { 200: '{total, items}', 400: 'bad query', 401: 'no token', 403: 'anonymous' },
    async handler({ auth, query }) {
      let all = isAdmin(auth) ? await phonebooks.list() : await phonebooks.listForUser(auth.sub);
      if (query.subscriber) all = all.filter((pb) => pb.subscribers.includes(query.subscriber!));
      return { body: applyList(all, query, ['name'], [...ORDERABLE]) };
    },
  });

  api.add({
    method: 'get', path: '/phonebooks/:id', tag: 'phonebooks', roles: ['admin', 'user'],
    summary: 'Get a phonebook (admin, or a user one of whose groups subscribes to it)',
    responses: { 200: 'phonebook', 403: 'not subscribed by any of your groups', 404: 'no such phonebook' },
    async handler({ auth, params }) {
      const pb = await phonebooks.require(params.id);
      if (!isAdmin(auth) && !(await phonebooks.readableBy(pb, auth.sub))) {
        throw new ApiError(403, 'forbidden', `none of your groups subscribes to phonebook ${pb.id}`);
      }
      return { body: pb };
    },
  });

  api.add({
    method: 'post', path: '/phonebooks', tag: 'phonebooks', roles: ['admin'], body: phonebookCreateBody,
    summary: 'Create a phonebook',
    responses: { 201: 'created phonebook', 400: 'invalid body', 403: 'not admin', 404: 'a subscriber group does not exist' },
    async handler({ body }) {
      const pb = await phonebooks.create(body);
      return { status: 201, body: pb, headers: { Location: `/sapi/phonebooks/${pb.id}` } };
    },
  });

  api.add({
    method: 'put', path: '/phonebooks/:id', tag: 'phonebooks', roles: ['admin'], body: phonebookUpdateBody,
    summary: 'Update a phonebook (fields sent change; contacts and subscribers replace the lists)',
    responses: { 200: 'updated phonebook', 400: 'invalid body', 403: 'not admin', 404: 'no such phonebook / subscriber group' },
    async handler({ params, body }) {
      return { body: await phonebooks.update(params.id, body) };
    },
  });

  api.add({
    method: 'delete', path: '/phonebooks/:id', tag: 'phonebooks', roles: ['admin'],
    summary: 'Delete a phonebook',
    responses: { 204: 'deleted', 403: 'not admin', 404: 'no such phonebook' },
    async handler({ params }) {
      await phonebooks.delete(params.id);
      return {};
    },
  });

  api.add({
    method: 'post', path: '/phonebooks/:id/contacts', tag: 'phonebooks', roles: ['admin'], body: contact,
    summary: 'Add a contact',
    responses: { 201: 'created contact', 400: 'invalid body', 403: 'not admin', 404: 'no such phonebook', 409: 'contact name already in the phonebook' },
    async handler({ params, body }) {
      return { status: 201, body: await phonebooks.addContact(params.id, body) };
    },
  });

  api.add({
    method: 'delete', path: '/phonebooks/:id/contacts/:contactId', tag: 'phonebooks', roles: ['admin'],
    summary: 'Remove a contact',
    responses: { 204: 'removed', 403: 'not admin', 404: 'no such phonebook or contact' },
    async handler({ params }) {
      await phonebooks.removeContact(params.id, params.contactId);
      return {};
    },
  });

  api.add({
    method: 'post', path: '/phonebooks/:id/subscribers', tag: 'phonebooks', roles: ['admin'], body: z.strictObject({ groupId }),
    summary: 'Subscribe a user group',
    responses: { 200: 'updated phonebook', 400: 'invalid body', 403: 'not admin', 404: 'no such phonebook or group', 409: 'already subscribed' },
    async handler({ params, body }) {
      return { body: await phonebooks.subscribe(params.id, body.groupId) };
    },
  });

  api.add({
    method: 'delete', path: '/phonebooks/:id/subscribers/:groupId', tag: 'phonebooks', roles: ['admin'],
    summary: 'Unsubscribe a user group',
    responses: { 200: 'updated phonebook', 403: 'not admin', 404: 'no such phonebook, or the group does not subscribe' },
    async handler({ params }) {
      return { body: await phonebooks.unsubscribe(params.id, params.groupId) };
    },
  });
}
