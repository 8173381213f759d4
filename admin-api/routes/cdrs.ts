/** `/sapi/cdrs`: call detail records; a user sees the calls it took part in, an admin all of them. */
import { z } from 'zod';
import { Cdrs } from '../../shared/model/cdrs';
import type { Store } from '../../shared/store';
import type { ApiRegistry } from '../api';
import { isAdmin } from '../auth/bearer';
import { ApiError } from '../errors';
import { applyList, listQuery, orderField } from '../list';

const ORDERABLE = ['start', 'end', 'duration', 'result', 'kind'] as const;
const RESULTS = ['answered', 'no-answer', 'busy', 'rejected', 'cancelled', 'failed'] as const;
const KINDS = ['direct', 'group', 'trunk-in', 'trunk-out'] as const;
const instant = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' });

export function cdrRoutes(api: ApiRegistry, deps: { store: Store }): void {
  const cdrs = new Cdrs(deps.store);

  api.add({
    method: 'get', path: '/cdrs', tag: 'cdrs', roles: ['admin', 'user'],
    summary: 'List call detail records (filters: user, from, to, result, kind); a user sees only its own calls',
    query: listQuery.extend({
      order: orderField([...ORDERABLE]),
      user: z.string().min(1).optional(),
      from: instant.optional(),
      to: instant.optional(),
      result: z.enum(RESULTS).optional(),
      kind: z.enum(KINDS).optional(),
    }),
    responses: { 200: '{total, items}', 400: 'bad filter', 401: 'no token', 403: 'anonymous, or another user\'s calls' },
    async handler({ auth, query }) {
      if (!isAdmin(auth) && query.user !== undefined && query.user !== auth.sub) {
        throw new ApiError(403, 'forbidden', 'you may only list your own calls');
      }
      const who = isAdmin(auth) ? query.user : auth.sub;
      const from = query.from ? Date.parse(query.from) : -Infinity;
      const to = query.to ? Date.parse(query.to) : Infinity;
      const items = (await cdrs.list()).filter((c) => {
        const t = Date.parse(c.start);
        return (who === undefined || c.parties.includes(who) || c.caller === who || c.callee === who)
          && t >= from && t <= to
          && (query.result === undefined || c.result === query.result)
          && (query.kind === undefined || c.kind === query.kind);
      });
      return { body: applyList(items, { ...query, order: query.order ?? 'start' }, ['caller', 'callee', 'answeredBy', 'callId'], [...ORDERABLE]) };
    },
  });
}
