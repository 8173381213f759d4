/**
 * SIP mappings (`/sapi/sipMappings`): a SIP identity (username, optional password) bound to an owner,
 * `wac-user:<id>` or `wac-group:<id>`. The username is unique (keys.sipMappingByUsername) so that an
 * inbound call to it finds its owner; keys.sipMappingsByOwner lists an owner's mappings.
 *
 * The password is kept only as digest HA1 (realm = the server domain) inside the stored document, so
 * that Users.delete, which deletes the documents of a deleted user's mappings, leaves no secret behind;
 * every public method returns the document without it.
 */
import { randomUUID } from 'node:crypto';
import type { Store, WriteOp } from '../store/store';
import { keys } from '../store/keys';
import { Collection } from './collection';
import { ModelError } from './errors';
import { commit, emptyPlan, Plan } from './plan';
import { digestHa1 } from './secret';

export interface SipMapping {
  id: string;
  ownerUri: string;
  credential: { username: string };
  createdAt: string;
  updatedAt: string;
}

/** The stored document: the public one plus the HA1 of the password, if there is one. */
interface StoredSipMapping extends SipMapping {
  ha1?: string;
}

export interface NewSipMapping {
  /** `wac-user:<id>` or `wac-group:<id>`; defaults to the user created in the same write (`newUserId`). */
  ownerUri?: string;
  /** `password` empty or absent = none. */
  credential: { username: string; password?: string };
}

export interface SipMappingPatch {
  ownerUri?: string;
  /** A new username needs the password again (the HA1 depends on it) if the mapping has one. */
  credential?: { username?: string; password?: string };
}

export const OWNER_URI = /^wac-(user|group):([A-Za-z0-9._~-]{1,128})$/;
/** The user part of a SIP URI as accepted here. */
export const SIP_USERNAME = /^[A-Za-z0-9._+-]{1,128}$/;

export function parseOwnerUri(uri: string): { kind: 'user' | 'group'; id: string } | null {
  const m = typeof uri === 'string' ? OWNER_URI.exec(uri) : null;
  return m ? { kind: m[1] as 'user' | 'group', id: m[2] } : null;
}

/**
 * The ops removing every SIP mapping of an owner that is being deleted, so that its SIP identities
 * return to the pool (usable again) in the same write as the deletion.
 */
export async function dropOwnerMappingsOps(store: Store, ownerUri: string): Promise<WriteOp[]> {
  const docs = new Collection<SipMapping>(store, 'sipmapping');
  const ops: WriteOp[] = [{ op: 'del', key: keys.sipMappingsByOwner(ownerUri) }];
  for (const m of await docs.getMany(await store.smembers(keys.sipMappingsByOwner(ownerUri)))) {
    ops.push(...docs.deleteOps(m.id), { op: 'del', key: keys.sipMappingByUsername(m.credential.username) });
  }
  return ops;
}

export class SipMappings {
  readonly docs: Collection<StoredSipMapping>;

  /** `realm` is the digest realm of the passwords: the server domain. */
  constructor(
    private readonly store: Store,
    private readonly opts: { realm: string },
  ) {
    this.docs = new Collection<StoredSipMapping>(store, 'sipmapping');
  }

  /**
   * The write creating a mapping; nothing is written. With `newUserId` (a user created in the same
   * write) that user need not exist yet and is the default owner.
   */
  async planCreate(input: NewSipMapping, opts: { newUserId?: string } = {}): Promise<{ mapping: SipMapping; plan: Plan }> {
    if (typeof input !== 'object' || input === null) throw invalid('body', 'a SIP mapping must be an object');
    const ownerUri = input.ownerUri ?? (opts.newUserId !== undefined ? `wac-user:${opts.newUserId}` : undefined);
    const owner = checkOwner(ownerUri);
    if (typeof input.credential !== 'object' || input.credential === null) throw invalid('credential', 'credential must be an object');
    const username = checkUsername(input.credential.username);
    const password = checkPassword(input.credential.password);
    const now = new Date().toISOString();
    const stored: StoredSipMapping = {
      id: randomUUID(),
      ownerUri: ownerUri!,
      credential: { username },
      createdAt: now,
      updatedAt: now,
      ...(password && { ha1: digestHa1(username, this.opts.realm, password) }),
    };
    const plan = emptyPlan();
    if (!(owner.kind === 'user' && owner.id === opts.newUserId)) await this.requireOwner(ownerUri!, plan);
    plan.ops.push(
      ...this.docs.putOps(stored),
      { op: 'set', key: keys.sipMappingByUsername(username), value: stored.id },
      { op: 'sadd', key: keys.sipMappingsByOwner(ownerUri!), members: [stored.id] },
    );
    plan.absent.push({ key: keys.sipMappingByUsername(username), error: taken(username) });
    return { mapping: toPublic(stored), plan };
  }

  async create(input: NewSipMapping): Promise<SipMapping> {
    const { mapping, plan } = await this.planCreate(input);
    await commit(this.store, plan);
    return mapping;
  }

  async get(id: string): Promise<SipMapping | null> {
    const m = await this.docs.get(id);
    return m && toPublic(m);
  }

  async list(): Promise<SipMapping[]> {
    return (await this.docs.all()).map(toPublic);
  }

  /** The mappings of one owner URI. */
  async byOwner(ownerUri: string): Promise<SipMapping[]> {
    const ids = await this.store.smembers(keys.sipMappingsByOwner(ownerUri));
    return (await this.docs.getMany(ids)).filter((m) => m.ownerUri === ownerUri).map(toPublic);
  }

  /** SIP username → its mapping (for routing), or null. */
  async findByUsername(username: string): Promise<SipMapping | null> {
    const id = await this.store.get(keys.sipMappingByUsername(username));
    if (!id) return null;
    const m = await this.docs.get(id);
    return m && m.credential.username === username ? toPublic(m) : null;
  }

  /** HA1 (realm = the server domain) of a mapped SIP username's password, or null when it has none. */
  async digestHa1(username: string): Promise<string | null> {
    const id = await this.store.get(keys.sipMappingByUsername(username));
    if (!id) return null;
    const m = await this.docs.get(id);
    return m && m.credential.username === username ? (m.ha1 ?? null) : null;
  }

  /** Changes the owner and/or the SIP identity in one write, moving the indexes along. */
  async update(id: string, patch: SipMappingPatch): Promise<SipMapping> {
    const current = await this.docs.get(id);
    if (!current) throw notFound(id);
    if (typeof patch !== 'object' || patch === null) throw invalid('body', 'a SIP mapping update must be an object');
    if (patch.credential !== undefined && (typeof patch.credential !== 'object' || patch.credential === null)) {
      throw invalid('credential', 'credential must be an object');
    }
    const plan = emptyPlan();
    const ownerUri = patch.ownerUri ?? current.ownerUri;
    if (ownerUri !== current.ownerUri) {
      checkOwner(ownerUri);
      await this.requireOwner(ownerUri, plan);
      plan.ops.push(
        { op: 'srem', key: keys.sipMappingsByOwner(current.ownerUri), members: [id] },
        { op: 'sadd', key: keys.sipMappingsByOwner(ownerUri), members: [id] },
      );
    }
    const oldName = current.credential.username;
    const username = patch.credential?.username === undefined ? oldName : checkUsername(patch.credential.username);
    const password = patch.credential?.password === undefined ? undefined : checkPassword(patch.credential.password);
    if (username !== oldName) {
      if (current.ha1 && password === undefined) {
        throw invalid('credential.password', 'credential.password must be given again to change the username of a mapping with a password');
      }
      plan.ops.push({ op: 'del', key: keys.sipMappingByUsername(oldName) }, { op: 'set', key: keys.sipMappingByUsername(username), value: id });
      plan.absent.push({ key: keys.sipMappingByUsername(username), error: taken(username) });
      // A concurrent rename of this mapping removes the old name: then this write must not apply.
      plan.present.push({ key: keys.sipMappingByUsername(oldName), error: new ModelError('conflict', 'the SIP mapping changed concurrently; try again') });
    }
    const { ha1: oldHa1, ...rest } = current;
    const ha1 = password === undefined ? oldHa1 : password === '' ? undefined : digestHa1(username, this.opts.realm, password);
    const updated: StoredSipMapping = {
      ...rest,
      ownerUri,
      credential: { username },
      updatedAt: new Date().toISOString(),
      ...(ha1 && { ha1 }),
    };
    plan.ops.push(...this.docs.putOps(updated));
    plan.present.push({ key: keys.sipMapping(id), error: notFound(id) });
    await commit(this.store, plan);
    return toPublic(updated);
  }

  async delete(id: string): Promise<void> {
    const current = await this.docs.get(id);
    if (!current) throw notFound(id);
    const ops: WriteOp[] = [...this.docs.deleteOps(id), { op: 'srem', key: keys.sipMappingsByOwner(current.ownerUri), members: [id] }];
    const byName = keys.sipMappingByUsername(current.credential.username);
    if ((await this.store.get(byName)) === id) ops.push({ op: 'del', key: byName });
    await commit(this.store, { ops, absent: [], present: [{ key: keys.sipMapping(id), error: notFound(id) }] });
  }

  /** Checks that the owner exists now, and guards the write so that it still does when applied. */
  private async requireOwner(ownerUri: string, plan: Plan): Promise<void> {
    const owner = parseOwnerUri(ownerUri)!;
    const key = owner.kind === 'user' ? keys.user(owner.id) : keys.group(owner.id);
    const error = new ModelError('not_found', `owner ${ownerUri} does not exist`, { field: 'ownerUri' });
    if ((await this.store.get(key)) === null) throw error;
    plan.present.push({ key, error });
  }
}

function toPublic(m: StoredSipMapping): SipMapping {
  return { id: m.id, ownerUri: m.ownerUri, credential: { username: m.credential.username }, createdAt: m.createdAt, updatedAt: m.updatedAt };
}

function notFound(id: string): ModelError {
  return new ModelError('not_found', `SIP mapping ${id} does not exist`);
}

function taken(username: string): ModelError {
  return new ModelError('conflict', `SIP username ${username} is already mapped`, { field: 'credential.username' });
}

function invalid(field: string, message: string): ModelError {
  return new ModelError('invalid', `${field}: ${message}`, { field });
}

function checkOwner(uri: string | undefined): { kind: 'user' | 'group'; id: string } {
  const owner = uri === undefined ? null : parseOwnerUri(uri);
  if (!owner) throw invalid('ownerUri', 'ownerUri must be wac-user:<id> or wac-group:<id>');
  return owner;
}

function checkUsername(v: unknown): string {
  if (typeof v !== 'string' || !SIP_USERNAME.test(v)) {
    throw invalid('credential.username', 'credential.username must be 1 to 128 letters, digits or . _ - +');
  }
  return v;
}

function checkPassword(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > 256) throw invalid('credential.password', 'credential.password must be a string of at most 256 characters');
  return v;
}
