/**
 * `/sapi/usersgroups`: any user (or admin) creates groups and becomes their owner; only the owner or an
 * admin renames, changes participants or deletes (a participant may remove itself). A user sees the
 * groups it owns or participates in (`?participant=true`: only those it participates in); an admin
 * sees all. Without `backend[] = UsersGroup` in wac.ini every group endpoint answers
 * 404 `service_disabled`.
 *
 * `/sapi/chats/:id`: the chat group of a user group is managed by the group only; any REST call on it
 * is refused with 403 `managed_chat`. (No other chat exists yet: an unknown id is a 404.)
 */
import { z } from 'zod';
import type { TokenClaims } from '../../shared/auth/jwt';
import type { Actor, Groups } from '../../shared/model/groups';
import type { ApiRegistry, RouteSpec } from '../api';
import { isAdmin } from '../auth/bearer';
import { ApiError } from '../errors';
import { applyList, listQuery, orderField } from '../list';

const name = z.string().trim().min(1).max(128);
const userId = z.string().min(1).max(128);

const groupCreateBody = z.strictObject({
  name,
  participants: z.array(userId).max(10000).optional(),
});

const groupUpdateBody = z.strictObject({
  name: name.optional(),
  participants: z.array(userId).max(10000).optional(),
});

const participantBody = z.strictObject({ userId });

const ORDERABLE = ['name', 'createdAt', 'updatedAt'] as const;

export const SERVICE_DISABLED_MESSAGE = 'The UsersGroup service is not enabled (add "backend[] = UsersGroup" and "module = UsersGroup" to wac.ini)';

export interface GroupRouteDeps {
  groups: Groups;
  /** config.usersGroupEnabled */
  enabled: boolean;
}

function actorOf(auth: TokenClaims): Actor {
  return { id: auth.sub, admin: isAdmin(auth) };
}

export function usersGroupRoutes(api: ApiRegistry, deps: GroupRouteDeps): void {
  const { groups } = deps;

  // With the service off, a route keeps its path and roles but answers service_disabled before
  // looking at the body or query.
  const add = <B extends z.ZodType, Q extends z.ZodType>(spec: RouteSpec<B, Q>) => {
    const responses = { ...spec.responses, 404: `${spec.responses[404] ? `${spec.responses[404]}; ` : ''}service_disabled: UsersGroup not enabled` };
    if (deps.enabled) return api.add({ ...spec, responses });
    api.add({
      method: spec.method, path: spec.path, tag: spec.tag, roles: spec.roles, summary: spec.summary, responses,
      async handler() {
        throw new ApiError(404, 'service_disabled', SERVICE_DISABLED_MESSAGE);
      },
    });
  };

  const readable = async (id: string, auth: TokenClaims) => {
    const group = await groups.require(id);
    if (!groups.canRead(group, actorOf(auth))) {
      throw new ApiError(403, 'forbidden', `User ${auth.sub} is not a participant of the group`);
    }
    return group;
  };

  add({
    method: 'get', path: '/usersgroups', tag: 'usersgroups', roles: ['admin', 'user'],
    summary: 'List groups: all for an admin, those owned or participated in for a user (participant=true: only participated in)',
    query: listQuery.extend({
      order: orderField([...ORDERABLE]),
      participant: z.enum(['true', 'false']).optional(),
      owner: z.string().optional(),
    }),
    responses: { 200: '{total, items}', 400: 'bad query', 401: 'no token', 403: 'anonymous' },
    async handler({ auth, query }) {
      let all = query.participant === 'true'
        ? await groups.listForUser(auth.sub, { participantOnly: true })
        : isAdmin(auth) ? await groups.list() : await groups.listForUser(auth.sub);
      if (query.owner) all = all.filter((g) => g.owner === query.owner);
      return { body: applyList(all, query, ['name'], [...ORDERABLE]) };
    },
  });

  add({
    method: 'get', path: '/usersgroups/:id', tag: 'usersgroups', roles: ['admin', 'user'],
    summary: 'Get a group (admin, owner or participant)',
    responses: { 200: 'group', 403: 'neither owner nor participant', 404: 'no such group' },
    async handler({ auth, params }) {
      return { body: await readable(params.id, auth) };
    },
  });

  add({
    method: 'post', path: '/usersgroups', tag: 'usersgroups', roles: ['admin', 'user'], body: groupCreateBody,
    summary: 'Create a group; the caller becomes its owner and first participant, and its chat group is created',
    responses: { 201: 'created group', 400: 'invalid body', 404: 'Specified participant does not exist' },
    async handler({ auth, body }) {
      const group = await groups.create(body, auth.sub);
      return { status: 201, body: group, headers: { Location: `/sapi/usersgroups/${group.id}` } };
    },
  });

  add({
    method: 'put', path: '/usersgroups/:id', tag: 'usersgroups', roles: ['admin', 'user'], body: groupUpdateBody,
    summary: 'Rename and/or replace the participants (owner or admin); the chat group follows',
    responses: { 200: 'updated group', 400: 'invalid body', 403: 'User <id> is not the owner of the group', 404: 'no such group / Specified participant does not exist' },
    async handler({ auth, params, body }) {
      return { body: await groups.update(params.id, body, actorOf(auth)) };
    },
  });

  add({
    method: 'delete', path: '/usersgroups/:id', tag: 'usersgroups', roles: ['admin', 'user'],
    summary: 'Delete a group and its chat group (owner or admin)',
    responses: { 204: 'deleted', 403: 'User <id> is not the owner of the group', 404: 'no such group' },
    async handler({ auth, params }) {
      await groups.delete(params.id, actorOf(auth));
      return {};
    },
  });

  add({
    method: 'get', path: '/usersgroups/:id/participants', tag: 'usersgroups', roles: ['admin', 'user'],
    summary: 'The participants\' user ids (admin, owner or participant)',
    responses: { 200: 'user ids', 403: 'neither owner nor participant', 404: 'no such group' },
    async handler({ auth, params }) {
      return { body: (await readable(params.id, auth)).participants };
    },
  });

  add({
    method: 'post', path: '/usersgroups/:id/participants', tag: 'usersgroups', roles: ['admin', 'user'], body: participantBody,
    summary: 'Add a participant (owner or admin); it joins the chat group too',
    responses: { 200: 'updated group', 400: 'invalid body', 403: 'User <id> is not the owner of the group', 404: 'no such group / Specified participant does not exist', 409: 'already a participant' },
    async handler({ auth, params, body }) {
      return { body: await groups.addParticipant(params.id, body.userId, actorOf(auth)) };
    },
  });

  add({
    method: 'delete', path: '/usersgroups/:id/participants/:userId', tag: 'usersgroups', roles: ['admin', 'user'],
    summary: 'Remove a participant (owner or admin; a participant may remove itself); it leaves the chat group too',
    responses: { 200: 'updated group', 403: 'User <id> is not the owner of the group', 404: 'no such group / not a participant' },
    async handler({ auth, params }) {
      return { body: await groups.removeParticipant(params.id, params.userId, actorOf(auth)) };
    },
  });

  // A user group's chat group is not a standard chat: nothing may be done to it through REST.
  const refuseChat = async (chatId: string): Promise<never> => {
    const chat = await groups.getChat(chatId);
    if (!chat) throw new ApiError(404, 'not_found', `chat ${chatId} does not exist`);
    throw new ApiError(403, 'managed_chat', `This chat group belongs to user group ${chat.groupId} and is managed by it`, { groupId: chat.groupId });
  };
  const chatRoutes: Array<[RouteSpec['method'], string, string]> = [
    ['get', '/chats/:id', 'Get a chat'],
    ['put', '/chats/:id', 'Replace a chat'],
    ['patch', '/chats/:id', 'Change a chat'],
    ['delete', '/chats/:id', 'Delete a chat'],
    ['get', '/chats/:id/members', 'List a chat\'s members'],
    ['post', '/chats/:id/members', 'Add a chat member'],
    ['delete', '/chats/:id/members/:userId', 'Remove a chat member'],
  ];
  for (const [method, path, summary] of chatRoutes) {
    api.add({
      method, path, tag: 'chats', summary: `${summary} (refused on a user group's chat group)`,
      responses: { 401: 'no token', 403: 'managed_chat: the chat group of a user group', 404: 'no such chat' },
      async handler({ params }) {
        return refuseChat(params.id);
      },
    });
  }
}
