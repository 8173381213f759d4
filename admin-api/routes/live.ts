/**
 * `/sapi/registrations` and `/sapi/calls`: the live view, polled by consoles. An admin sees every
 * node's registrations and calls, a user its own registrations and the calls it takes part in.
 */
import { z } from 'zod';
import type { LiveCall, LiveDevice, LiveRegistration, LiveState } from '../../shared/live';
import type { ApiRegistry } from '../api';
import { isAdmin } from '../auth/bearer';
import { ApiError } from '../errors';
import { applyList, listQuery, orderField } from '../list';

const iso = (ms: number) => new Date(ms).toISOString();

export function liveRoutes(api: ApiRegistry, deps: { live: LiveState }): void {
  const { live } = deps;

  api.add({
    method: 'get', path: '/registrations', tag: 'live', roles: ['admin', 'user'],
    summary: 'Registered users with their devices (filter: user = username); a user sees only its own',
    query: listQuery.extend({ order: orderField(['user', 'aor']), user: z.string().min(1).optional() }),
    responses: { 200: '{total, items}', 400: 'bad filter', 401: 'no token', 403: 'anonymous, or another user\'s registrations' },
    async handler({ auth, query }) {
      if (!isAdmin(auth) && query.user !== undefined && query.user !== auth.username) {
        throw new ApiError(403, 'forbidden', 'you may only list your own registrations');
      }
      const mine = `${auth.username}@${auth.domain}`;
      const items = (await live.registrations()).filter((r) => (isAdmin(auth) ? query.user === undefined || r.user === query.user : r.aor === mine));
      const page = applyList(items, { ...query, order: query.order ?? 'user' }, ['user', 'aor'], ['user', 'aor']);
      return { body: { total: page.total, items: page.items.map(registration) } };
    },
  });

  api.add({
    method: 'get', path: '/calls', tag: 'live', roles: ['admin', 'user'],
    summary: 'Calls under way (filters: user = user id, state); a user sees only the calls it takes part in',
    query: listQuery.extend({
      order: orderField(['start', 'state', 'kind']),
      user: z.string().min(1).optional(),
      state: z.enum(['ringing', 'answered']).optional(),
    }),
    responses: { 200: '{total, items}', 400: 'bad filter', 401: 'no token', 403: 'anonymous, or another user\'s calls' },
    async handler({ auth, query }) {
      if (!isAdmin(auth) && query.user !== undefined && query.user !== auth.sub) {
        throw new ApiError(403, 'forbidden', 'you may only list your own calls');
      }
      const who = isAdmin(auth) ? query.user : auth.sub;
      const items = (await live.calls()).filter((c) => (who === undefined || c.parties.includes(who)) && (query.state === undefined || c.state === query.state));
      const page = applyList(items, { ...query, order: query.order ?? 'start' }, ['caller', 'callee', 'answeredBy', 'callId'], ['start', 'state', 'kind']);
      return { body: { total: page.total, items: page.items.map(call) } };
    },
  });
}

function registration(r: LiveRegistration) {
  return { user: r.user, aor: r.aor, devices: r.devices.map(device) };
}

function device(d: LiveDevice) {
  return { ...d, expiresAt: iso(d.expiresAt), registeredAt: iso(d.registeredAt) };
}

function call(c: LiveCall) {
  return { ...c, start: iso(c.start), answer: c.answer === null ? null : iso(c.answer) };
}
