/** The shapes of the /sapi answers the console reads (the fields it uses; see /sapi/openapi.json). */

export interface List<T> {
  total: number;
  items: T[];
}

export type Role = 'admin' | 'user' | 'anonymous';
export const ROLES: readonly Role[] = ['user', 'admin', 'anonymous'];

export interface User {
  id: string;
  domain: string;
  username: string;
  role: Role;
  email?: string;
  alias?: string;
  dnd: boolean;
}

export interface Credential {
  id: string;
  type: 'basic' | 'ims';
  user: string;
  expiresAt: string | null;
  updatedAt: string;
}

export interface SipMapping {
  id: string;
  /** `wac-user:<id>` or `wac-group:<id>`. */
  ownerUri: string;
  credential: { username: string };
}

export interface Group {
  id: string;
  name: string;
  owner: string;
  participants: string[];
}

export interface Device {
  contact: string;
  transport: string;
  userAgent: string | null;
  registeredAt: string;
  expiresAt: string;
}

export interface Registration {
  /** The username. */
  user: string;
  aor: string;
  devices: Device[];
}

export interface Call {
  id: string;
  kind: 'direct' | 'group' | 'trunk-in' | 'trunk-out';
  /** A local caller's user id, else its SIP identity. */
  caller: string;
  /** A user id, a group id or the dialled number. */
  callee: string;
  state: 'ringing' | 'answered';
  answeredBy: string | null;
  start: string;
  answer: string | null;
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
}
