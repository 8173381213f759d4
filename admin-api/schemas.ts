/** Request-body pieces shared by several resources. */
import { z } from 'zod';
import { ROLES } from '../shared/model/users';

export const role = z.enum(ROLES as unknown as ['admin', 'user', 'anonymous']);
export const stringList = z.array(z.string().min(1).max(256)).max(100);

const forward = z.strictObject({
  enabled: z.boolean(),
  destination: z.string().regex(/^[A-Za-z0-9._+*#-]{1,128}$/, 'must be a username, group id or number'),
});

export const userFields = {
  dnd: z.boolean().optional(),
  forwards: z.strictObject({
    unconditional: forward.optional(),
    busy: forward.optional(),
    noanswer: forward.extend({ timeout: z.number().int().min(1).max(600).optional() }).optional(),
  }).optional(),
  email: z.email().max(254).optional(),
  role: role.optional(),
  capabilities: stringList.optional(),
  mobilePhone: z.array(z.string().regex(/^\+?[0-9*#]{1,32}$/, 'must be a phone number')).max(20).optional(),
  currentTimezone: z.string().min(1).max(64).optional(),
  locale: z.string().regex(/^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$/, 'must be a locale such as es-ES').optional(),
  alias: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - only').optional(),
};
