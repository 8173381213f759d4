/** Users and their password (the `basic` credential), over the Store primitives. */
import { randomUUID } from 'node:crypto';
import type { Store, WriteOp } from '../store/store';
import { keys } from '../store/keys';
import { Collection } from './collection';
// credentials.ts imports this module for types only, so the two do not load each other in a cycle.
import { Credentials } from './credentials';
import { dropOwnerMappingsOps } from './sip-mappings';
import { ModelError } from './errors';
import { commitLeavingGroups } from './groups';
import { commit, emptyPlan, mergePlans, Plan } from './plan';
import { digestHa1, slowHash, verifySlowHash } from './secret';

export { ModelError } from './errors';
export type { ModelErrorCode } from './errors';

export type Role = 'admin' | 'user' | 'anonymous';
export const ROLES: readonly Role[] = ['admin', 'user', 'anonymous'];

/** A call forward: where calls go instead, a username, group id or number. */
export interface Forward {
  enabled: boolean;
  destination: string;
}

export interface Forwards {
  unconditional?: Forward;
  busy?: Forward;
  /** `timeout`: seconds of ringing before the call is forwarded (default 20). */
  noanswer?: Forward & { timeout?: number };
}

export interface User {
  id: string;
  domain: string;
  username: string;
  role: Role;
  email?: string;
  capabilities: string[];
  mobilePhone: string[];
  currentTimezone: string;
  locale: string;
  alias?: string;
  /** Do not disturb: direct calls are refused as busy (or take the busy forward). */
  dnd: boolean;
  forwards: Forwards;
  createdAt: string;
  updatedAt: string;
}

export interface NewUser {
  domain: string;
  username: string;
  password?: string;
  role?: Role;
  email?: string;
  capabilities?: string[];
  mobilePhone?: string[];
  currentTimezone?: string;
  locale?: string;
  alias?: string;
  dnd?: boolean;
  forwards?: Forwards;
}

export type UserPatch = Partial<Pick<User, 'email' | 'role' | 'capabilities' | 'mobilePhone' | 'currentTimezone' | 'locale' | 'alias' | 'dnd' | 'forwards'>>;

export interface UserDefaults {
  timezone: string;
  locale: string;
}

/** What a basic credential stores for a user: never the password itself. */
export interface BasicSecret {
  credentialId?: string;
  /** ms since epoch after which the password stops working; absent = no expiry. */
  expiresAt?: number;
}

export class Users {
  readonly docs: Collection<User>;

  constructor(
    private readonly store: Store,
    private readonly defaults: UserDefaults = { timezone: 'Europe/Madrid', locale: 'en-US' },
  ) {
    this.docs = new Collection<User>(store, 'user');
  }

  /** The ops creating a user; nothing is written. */
  planCreate(input: NewUser): { user: User; plan: Plan } {
    const { domain, username, role = 'user' } = input;
    validateName(domain, username);
    if (!ROLES.includes(role)) throw new ModelError('invalid', `role must be one of ${ROLES.join(', ')}`);
    const now = new Date().toISOString();
    const user: User = {
      id: randomUUID(),
      domain,
      username,
      role,
      ...(input.email !== undefined && { email: input.email }),
      capabilities: input.capabilities ?? [],
      mobilePhone: input.mobilePhone ?? [],
      currentTimezone: input.currentTimezone ?? this.defaults.timezone,
      locale: input.locale ?? this.defaults.locale,
      ...(input.alias !== undefined && { alias: input.alias }),
      dnd: input.dnd ?? false,
      forwards: input.forwards ?? {},
      createdAt: now,
      updatedAt: now,
    };
    const plan = emptyPlan();
    plan.ops.push(...this.docs.putOps(user), { op: 'set', key: keys.userByName(domain, username), value: user.id });
    plan.absent.push({
      key: keys.userByName(domain, username),
      error: new ModelError('conflict', `user ${username} already exists in domain ${domain}`, { field: 'username' }),
    });
    return { user, plan };
  }

  /**
   * Creates a user; a password given here becomes its `basic` credential, exactly as if it had been
   * created through /sapi/credentials (tests and the first admin use this shortcut).
   */
  async create(input: NewUser): Promise<User> {
    const { user, plan } = this.planCreate(input);
    const parts = [plan];
    if (input.password !== undefined) {
      const basic = await new Credentials(this.store, this).planCreate({ type: 'basic', data: { password: input.password } }, { newUser: user });
      parts.push(basic.plan);
    }
    await commit(this.store, mergePlans(...parts));
    return user;
  }

  get(id: string): Promise<User | null> {
    return this.docs.get(id);
  }

  async findByName(domain: string, username: string): Promise<User | null> {
    const id = await this.store.get(keys.userByName(domain, username));
    return id ? this.get(id) : null;
  }

  list(): Promise<User[]> {
    return this.docs.all();
  }

  async update(id: string, patch: UserPatch): Promise<User> {
    const user = await this.get(id);
    if (!user) throw new ModelError('not_found', `user ${id} does not exist`);
    if (patch.role !== undefined && !ROLES.includes(patch.role)) {
      throw new ModelError('invalid', `role must be one of ${ROLES.join(', ')}`, { field: 'role' });
    }
    const updated: User = { ...user, ...patch, updatedAt: new Date().toISOString() };
    const plan = emptyPlan();
    plan.ops.push(...this.docs.putOps(updated));
    plan.present.push({ key: keys.user(id), error: new ModelError('not_found', `user ${id} does not exist`) });
    await commit(this.store, plan);
    return updated;
  }

  /**
   * Deletes a user and the SIP mappings it owns (their identities return to the pool);
   * credentials are kept, as in Quobis WAC.
   */
  async delete(id: string): Promise<void> {
    const user = await this.get(id);
    if (!user) throw new ModelError('not_found', `user ${id} does not exist`);
    const ops: WriteOp[] = [
      ...this.docs.deleteOps(id), { op: 'del', key: keys.userByName(user.domain, user.username) },
      ...(await dropOwnerMappingsOps(this.store, `wac-user:${id}`)), { op: 'del', key: keys.basicCredential(id) },
    ];
    // In the same write the user leaves every user group (and its chat group); groups it owns stay.
    await commitLeavingGroups(this.store, id, { ops, absent: [], present: [{ key: keys.user(id), error: new ModelError('not_found', `user ${id} does not exist`) }] });
  }

  /**
   * The ops that set a user's password (HA1 for realm = domain, and a slow hash); `isNew` when the user
   * is created in the same write, so that it need not exist yet.
   */
  async planPassword(user: User, password: string, secret: BasicSecret, isNew = false): Promise<Plan> {
    validatePassword(password);
    const fields: Record<string, string> = {
      ha1: digestHa1(user.username, user.domain, password),
      hash: await this.hashPassword(password),
    };
    if (secret.credentialId !== undefined) fields.credentialId = secret.credentialId;
    if (secret.expiresAt !== undefined) fields.expiresAt = String(secret.expiresAt);
    const plan = emptyPlan();
    // A previous password's lease must not linger on the new one.
    plan.ops.push({ op: 'del', key: keys.basicCredential(user.id) }, { op: 'hset', key: keys.basicCredential(user.id), fields });
    if (!isNew) plan.present.push({ key: keys.user(user.id), error: new ModelError('not_found', `user ${user.id} does not exist`) });
    return plan;
  }

  /** The login hash of a password (overridden only by the bench's bulk provisioning). */
  protected hashPassword(password: string): Promise<string> {
    return slowHash(password);
  }

  async setPassword(userId: string, password: string, secret: BasicSecret = {}): Promise<void> {
    validatePassword(password);
    const user = await this.get(userId);
    if (!user) throw new ModelError('not_found', `no user ${userId}`);
    await commit(this.store, await this.planPassword(user, password, secret));
  }

  /** HA1 for digest auth with realm = domain, or null if the user has no password or its lease ran out. */
  async digestHa1(domain: string, username: string): Promise<string | null> {
    const id = await this.store.get(keys.userByName(domain, username));
    if (!id) return null;
    const secret = await this.store.hgetall(keys.basicCredential(id));
    return live(secret) ? secret.ha1 : null;
  }

  /** Takes as long for a user without a password as for a wrong password, so logins do not reveal who exists. */
  async verifyPassword(userId: string, password: string): Promise<boolean> {
    const secret = await this.store.hgetall(keys.basicCredential(userId));
    if (!live(secret)) {
      await verifySlowHash(await decoyHash(), password);
      return false;
    }
    return verifySlowHash(secret.hash, password);
  }
}

let decoy: Promise<string> | undefined;
function decoyHash(): Promise<string> {
  decoy ??= slowHash('decoy');
  return decoy;
}

function live(secret: Record<string, string>): boolean {
  if (!secret.ha1 || !secret.hash) return false;
  return secret.expiresAt === undefined || Number(secret.expiresAt) > Date.now();
}

function validateName(domain: string, username: string): void {
  if (typeof domain !== 'string' || !/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(domain)) {
    throw new ModelError('invalid', `invalid domain ${JSON.stringify(domain)}`, { field: 'domain' });
  }
  if (typeof username !== 'string' || username.length === 0 || /[\s:@\u0000-\u001f\u007f]/.test(username)) {
    throw new ModelError('invalid', `invalid username ${JSON.stringify(username)}`, { field: 'username' });
  }
}

function validatePassword(password: string): void {
  if (typeof password !== 'string' || password.length === 0) {
    throw new ModelError('invalid', 'password must be a non-empty string', { field: 'password' });
  }
}
