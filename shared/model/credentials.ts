/**
 * Credentials (`/sapi/credentials`): `basic` is a user's password (kept by Users as digest HA1 plus a
 * slow hash under keys.basicCredential), `ims` the login of a third-party SIPoWS gateway (its secrets
 * kept under keys.credentialSecret). Credential documents never hold a secret, so a document can be
 * returned as is.
 */
import { randomUUID } from 'node:crypto';
import type { Store, WriteOp } from '../store/store';
import { keys } from '../store/keys';
import { Collection } from './collection';
import { ModelError } from './errors';
import { commit, emptyPlan, mergePlans, Plan } from './plan';
import type { User, Users } from './users';

export const CREDENTIAL_TYPES = ['basic', 'ims'] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];

/** A TURN/STUN server as the Quobis seed sends it; `credential` is a secret and is never returned. */
export interface IceServerInput {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** An ICE server as returned: its `credential`, if any, is replaced by `hasCredential: true`. */
export type IceServer = string | { urls: string | string[]; username?: string; hasCredential?: true };

export interface BasicDataInput {
  password: string;
}

export interface ImsDataInput {
  username: string;
  userauthname: string;
  /** Required on create; on update, omitted = keep the current one. */
  password?: string;
  authserver: string;
  iceserver?: Array<string | IceServerInput>;
}

export interface ImsData {
  username: string;
  userauthname: string;
  authserver: string;
  iceserver: IceServer[];
}

export interface Credential {
  id: string;
  type: CredentialType;
  source: string;
  context: Record<string, unknown>;
  domain: string;
  /** The owning user's id. */
  user: string;
  /** Seconds of validity from creation (or from the last lease/password change); 0 = no expiry. */
  lease: number;
  /** When the credential stops working (ISO), or null. */
  expiresAt: string | null;
  createdAt: string;
  updatedAt: string;
  /** Never a secret: `{}` for basic, the non-secret fields for ims. */
  data: Record<string, never> | ImsData;
}

export interface NewCredential {
  type: CredentialType;
  /** The owning user's id; may be omitted when the user is created in the same write (`newUser`). */
  user?: string;
  source?: string;
  context?: Record<string, unknown>;
  /** Defaults to the user's domain; a basic credential must be in the user's domain (the digest realm). */
  domain?: string;
  lease?: number;
  data: BasicDataInput | ImsDataInput;
}

export interface CredentialPatch {
  source?: string;
  context?: Record<string, unknown>;
  lease?: number;
  /** The full data of the credential's type (for ims, `password` may be left out to keep it). */
  data?: BasicDataInput | ImsDataInput;
}

/** What keys.credentialSecret holds for an ims credential. */
interface ImsSecret {
  password: string;
  /** The `credential` of each iceserver entry, by position (null = none). */
  iceCredentials: Array<string | null>;
}

export class Credentials {
  readonly docs: Collection<Credential>;

  constructor(
    private readonly store: Store,
    private readonly users: Users,
  ) {
    this.docs = new Collection<Credential>(store, 'credential');
  }

  /**
   * The write creating a credential; nothing is written. `newUser` is a user created in the same
   * write: it need not exist yet and is not looked up.
   */
  async planCreate(input: NewCredential, opts: { newUser?: User } = {}): Promise<{ credential: Credential; plan: Plan }> {
    if (!isObject(input)) throw invalid('body', 'a credential must be an object');
    if (!CREDENTIAL_TYPES.includes(input.type)) throw invalid('type', `type must be one of ${CREDENTIAL_TYPES.join(', ')}`);
    const userId = input.user ?? opts.newUser?.id;
    if (typeof userId !== 'string' || userId === '') throw invalid('user', 'user must be a user id');
    const isNew = opts.newUser !== undefined && opts.newUser.id === userId;
    const user = isNew ? opts.newUser! : await this.users.get(userId);
    if (!user) throw new ModelError('not_found', `user ${userId} does not exist`, { field: 'user' });

    const source = checkSource(input.source ?? 'wac');
    const context = checkContext(input.context ?? {});
    const lease = checkLease(input.lease ?? 0);
    const domain = checkDomain(input.domain ?? user.domain);
    if (input.type === 'basic' && domain !== user.domain) {
      throw invalid('domain', `domain of a basic credential must be the user's domain ${user.domain}`);
    }

    const now = Date.now();
    const expiresMs = lease > 0 ? now + lease * 1000 : undefined;
    const id = randomUUID();
    const credential: Credential = {
      id,
      type: input.type,
      source,
      context,
      domain,
      user: user.id,
      lease,
      expiresAt: expiresMs === undefined ? null : new Date(expiresMs).toISOString(),
      createdAt: new Date(now).toISOString(),
      updatedAt: new Date(now).toISOString(),
      data: {},
    };

    const plan = emptyPlan();
    const parts: Plan[] = [plan];
    if (input.type === 'basic') {
      const data = checkBasicData(input.data);
      parts.push(await this.users.planPassword(user, data.password, { credentialId: id, expiresAt: expiresMs }, isNew));
      plan.ops.push({ op: 'set', key: keys.userBasicCredential(user.id), value: id });
      plan.absent.push({
        key: keys.userBasicCredential(user.id),
        error: new ModelError('conflict', `user ${user.username} already has a basic credential`, { field: 'type' }),
      });
    } else {
      const { data, secret } = splitImsData(input.data, undefined);
      credential.data = data;
      plan.ops.push({ op: 'set', key: keys.credentialSecret(id), value: JSON.stringify(secret) });
    }
    plan.ops.push(...this.docs.putOps(credential), { op: 'sadd', key: keys.userCredentials(user.id), members: [id] });
    if (!isNew) plan.present.push({ key: keys.user(user.id), error: new ModelError('not_found', `user ${user.id} does not exist`, { field: 'user' }) });
    return { credential, plan: mergePlans(...parts) };
  }

  async create(input: NewCredential): Promise<Credential> {
    const { credential, plan } = await this.planCreate(input);
    await commit(this.store, plan);
    return credential;
  }

  get(id: string): Promise<Credential | null> {
    return this.docs.get(id);
  }

  list(): Promise<Credential[]> {
    return this.docs.all();
  }

  async listByUser(userId: string): Promise<Credential[]> {
    return this.docs.getMany(await this.store.smembers(keys.userCredentials(userId)));
  }

  /**
   * Changes source, context, lease and/or data. A new basic password is hashed again; a new lease
   * (or a new password) restarts the validity period from now.
   */
  async update(id: string, patch: CredentialPatch): Promise<Credential> {
    const current = await this.get(id);
    if (!current) throw notFound(id);
    if (!isObject(patch)) throw invalid('body', 'a credential update must be an object');
    const lease = patch.lease === undefined ? current.lease : checkLease(patch.lease);
    const restart = patch.lease !== undefined || patch.data !== undefined;
    const now = Date.now();
    const expiresMs = restart ? (lease > 0 ? now + lease * 1000 : undefined) : current.expiresAt === null ? undefined : Date.parse(current.expiresAt);
    const updated: Credential = {
      ...current,
      source: patch.source === undefined ? current.source : checkSource(patch.source),
      context: patch.context === undefined ? current.context : checkContext(patch.context),
      lease,
      expiresAt: expiresMs === undefined ? null : new Date(expiresMs).toISOString(),
      updatedAt: new Date(now).toISOString(),
    };

    const plan = emptyPlan();
    const parts: Plan[] = [plan];
    if (current.type === 'basic') {
      if (patch.data !== undefined) {
        const data = checkBasicData(patch.data);
        const user = await this.users.get(current.user);
        if (!user) throw new ModelError('not_found', `user ${current.user} of credential ${id} no longer exists`, { field: 'user' });
        parts.push(await this.users.planPassword(user, data.password, { credentialId: id, expiresAt: expiresMs }));
      } else if (patch.lease !== undefined) {
        const secret = await this.store.hgetall(keys.basicCredential(current.user));
        if (secret.credentialId === id && secret.ha1) {
          plan.ops.push(
            expiresMs === undefined
              ? { op: 'hdel', key: keys.basicCredential(current.user), fields: ['expiresAt'] }
              : { op: 'hset', key: keys.basicCredential(current.user), fields: { expiresAt: String(expiresMs) } },
          );
          plan.present.push({ key: keys.user(current.user), error: new ModelError('not_found', `user ${current.user} does not exist`, { field: 'user' }) });
        }
      }
    } else if (patch.data !== undefined) {
      const raw = await this.store.get(keys.credentialSecret(id));
      const old = raw === null ? undefined : (JSON.parse(raw) as ImsSecret);
      const { data, secret } = splitImsData(patch.data, old);
      updated.data = data;
      plan.ops.push({ op: 'set', key: keys.credentialSecret(id), value: JSON.stringify(secret) });
    }
    plan.ops.push(...this.docs.putOps(updated));
    plan.present.push({ key: keys.credential(id), error: notFound(id) });
    await commit(this.store, mergePlans(...parts));
    return updated;
  }

  /** Deletes a credential; for a basic one, the user's password goes with it. */
  async delete(id: string): Promise<void> {
    const current = await this.get(id);
    if (!current) throw notFound(id);
    const ops: WriteOp[] = [
      ...this.docs.deleteOps(id),
      { op: 'srem', key: keys.userCredentials(current.user), members: [id] },
      { op: 'del', key: keys.credentialSecret(id) },
    ];
    if (current.type === 'basic') {
      ops.push({ op: 'del', key: keys.userBasicCredential(current.user) }, { op: 'del', key: keys.basicCredential(current.user) });
    }
    await commit(this.store, { ops, absent: [], present: [{ key: keys.credential(id), error: notFound(id) }] });
  }
}

function notFound(id: string): ModelError {
  return new ModelError('not_found', `credential ${id} does not exist`);
}

function invalid(field: string, message: string): ModelError {
  return new ModelError('invalid', `${field}: ${message}`, { field });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkSource(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 128) throw invalid('source', 'source must be a string of 1 to 128 characters');
  return v;
}

function checkContext(v: unknown): Record<string, unknown> {
  if (!isObject(v)) throw invalid('context', 'context must be an object');
  return v;
}

function checkLease(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid('lease', 'lease must be an integer number of seconds >= 0');
  return v;
}

function checkDomain(v: unknown): string {
  if (typeof v !== 'string' || v.length > 253 || !/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(v)) {
    throw invalid('domain', `invalid domain ${JSON.stringify(v)}`);
  }
  return v;
}

function checkBasicData(v: unknown): BasicDataInput {
  if (!isObject(v)) throw invalid('data', 'data must be an object');
  if (typeof v.password !== 'string' || v.password.length === 0) throw invalid('data.password', 'data.password must be a non-empty string');
  return { password: v.password };
}

/** Splits ims data into what may be returned and the secrets; `old` supplies a password left out on update. */
function splitImsData(v: unknown, old: ImsSecret | undefined): { data: ImsData; secret: ImsSecret } {
  if (!isObject(v)) throw invalid('data', 'data must be an object');
  for (const f of ['username', 'userauthname', 'authserver'] as const) {
    if (typeof v[f] !== 'string' || (v[f] as string).length === 0) throw invalid(`data.${f}`, `data.${f} must be a non-empty string`);
  }
  let password: string;
  if (v.password === undefined && old) password = old.password;
  else if (typeof v.password === 'string' && v.password.length > 0) password = v.password;
  else throw invalid('data.password', 'data.password must be a non-empty string');
  const list = v.iceserver ?? [];
  if (!Array.isArray(list)) throw invalid('data.iceserver', 'data.iceserver must be an array');
  const iceserver: IceServer[] = [];
  const iceCredentials: Array<string | null> = [];
  list.forEach((entry: unknown, i: number) => {
    if (typeof entry === 'string' && entry.length > 0) {
      iceserver.push(entry);
      iceCredentials.push(null);
      return;
    }
    const urlsOk = isObject(entry) && (typeof entry.urls === 'string' || (Array.isArray(entry.urls) && entry.urls.every((u) => typeof u === 'string')));
    if (!isObject(entry) || !urlsOk || (entry.username !== undefined && typeof entry.username !== 'string') || (entry.credential !== undefined && typeof entry.credential !== 'string')) {
      throw invalid(`data.iceserver.${i}`, `data.iceserver.${i} must be a URL or {urls, username?, credential?}`);
    }
    const e = entry as unknown as IceServerInput;
    iceserver.push({ urls: e.urls, ...(e.username !== undefined && { username: e.username }), ...(e.credential !== undefined && { hasCredential: true as const }) });
    iceCredentials.push(e.credential ?? null);
  });
  return {
    data: { username: v.username as string, userauthname: v.userauthname as string, authserver: v.authserver as string, iceserver },
    secret: { password, iceCredentials },
  };
}
