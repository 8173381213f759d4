/**
 * Phonebooks: a name, contacts `{id, name, address}` and subscribers (user group ids). Groups subscribe
 * to phonebooks (many to many); a user reads the phonebooks its groups subscribe to.
 * A contact's address is an E.164 number (`+34987654321`), a username (`bob`), `username@domain`, or a
 * user group id. Contact names are unique within a phonebook ("one address per name").
 * Subscribers must exist when written; a group deleted later simply stops being listed (reads filter
 * out subscribers whose group is gone, and the next write drops them).
 */
import { randomUUID } from 'node:crypto';
import type { Store, WriteOp } from '../store/store';
import { keys } from '../store/keys';
import { Collection } from './collection';
import { ModelError } from './errors';
import { retryStale, StaleRevision } from './groups';
import { commit, emptyPlan, Plan } from './plan';

export interface Contact {
  id: string;
  name: string;
  address: string;
}

export interface Phonebook {
  id: string;
  name: string;
  contacts: Contact[];
  /** User group ids. */
  subscribers: string[];
  createdAt: string;
  updatedAt: string;
}

export interface ContactInput {
  /** Kept when given (to preserve a contact across a full replacement); generated otherwise. */
  id?: string;
  name: string;
  address: string;
}

export interface PhonebookInput {
  name: string;
  contacts?: ContactInput[];
  subscribers?: string[];
}

export type PhonebookPatch = Partial<PhonebookInput>;

interface StoredPhonebook extends Phonebook {
  rev: number;
}

const E164 = /^\+[1-9][0-9]{1,14}$/;
const DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const USERNAME = /^[^\s:@\u0000-\u001f\u007f]+$/;

/** Whether `address` is an E.164 number, a username, username@domain or a group id. */
export function isContactAddress(address: string): boolean {
  if (address.startsWith('+')) return E164.test(address);
  const at = address.indexOf('@');
  if (at < 0) return USERNAME.test(address);
  return USERNAME.test(address.slice(0, at)) && DOMAIN.test(address.slice(at + 1));
}

export class Phonebooks {
  readonly docs: Collection<StoredPhonebook>;

  constructor(private readonly store: Store) {
    this.docs = new Collection<StoredPhonebook>(store, 'phonebook');
  }

  async get(id: string): Promise<Phonebook | null> {
    const pb = await this.docs.get(id);
    return pb && (await this.present([pb]))[0];
  }

  async require(id: string): Promise<Phonebook> {
    const pb = await this.get(id);
    if (!pb) throw notFound(id);
    return pb;
  }

  async list(): Promise<Phonebook[]> {
    return this.present(await this.docs.all());
  }

  /** The phonebooks subscribed by any group the user participates in. */
  async listForUser(userId: string): Promise<Phonebook[]> {
    const ids = new Set<string>();
    for (const groupId of await this.store.smembers(keys.userGroups(userId))) {
      for (const id of await this.store.smembers(keys.groupPhonebooks(groupId))) ids.add(id);
    }
    return this.present(await this.docs.getMany([...ids]));
  }

  /** Whether one of the user's groups subscribes to the phonebook. */
  async readableBy(pb: Phonebook, userId: string): Promise<boolean> {
    const mine = new Set(await this.store.smembers(keys.userGroups(userId)));
    return pb.subscribers.some((g) => mine.has(g));
  }

  async create(input: PhonebookInput): Promise<Phonebook> {
    const now = new Date().toISOString();
    const stored: StoredPhonebook = {
      id: randomUUID(),
      name: validName(input.name),
      contacts: validContacts(input.contacts ?? []),
      subscribers: validSubscribers(input.subscribers ?? []),
      createdAt: now,
      updatedAt: now,
      rev: 0,
    };
    const plan = emptyPlan();
    plan.ops.push(
      ...this.docs.putOps(stored),
      { op: 'set', key: keys.revision(keys.phonebook(stored.id), 0), value: '1' },
      ...stored.subscribers.map((g): WriteOp => ({ op: 'sadd', key: keys.groupPhonebooks(g), members: [stored.id] })),
    );
    plan.present.push(...groupGuards(stored.subscribers));
    await commit(this.store, plan);
    return publicPhonebook(stored);
  }

  /** Changes the fields given; `contacts` and `subscribers` replace the current lists. */
  update(id: string, patch: PhonebookPatch): Promise<Phonebook> {
    const name = patch.name === undefined ? undefined : validName(patch.name);
    const contacts = patch.contacts === undefined ? undefined : validContacts(patch.contacts);
    const subscribers = patch.subscribers === undefined ? undefined : validSubscribers(patch.subscribers);
    return this.change(id, (pb) => ({
      ...pb,
      ...(name !== undefined && { name }),
      ...(contacts !== undefined && { contacts }),
      ...(subscribers !== undefined && { subscribers }),
    }));
  }

  async addContact(id: string, input: ContactInput): Promise<Contact> {
    const [contact] = validContacts([input]);
    await this.change(id, (pb) => {
      if (pb.contacts.some((c) => c.name === contact.name)) {
        throw new ModelError('conflict', `contact ${contact.name} is already in the phonebook`, { field: 'name' });
      }
      if (pb.contacts.some((c) => c.id === contact.id)) throw new ModelError('conflict', `contact ${contact.id} is already in the phonebook`, { field: 'id' });
      return { ...pb, contacts: [...pb.contacts, contact] };
    });
    return contact;
  }

  async removeContact(id: string, contactId: string): Promise<void> {
    await this.change(id, (pb) => {
      if (!pb.contacts.some((c) => c.id === contactId)) throw new ModelError('not_found', `contact ${contactId} is not in the phonebook`);
      return { ...pb, contacts: pb.contacts.filter((c) => c.id !== contactId) };
    });
  }

  async subscribe(id: string, groupId: string): Promise<Phonebook> {
    return this.change(id, (pb) => {
      if (pb.subscribers.includes(groupId)) throw new ModelError('conflict', `usersgroup ${groupId} already subscribes to the phonebook`, { field: 'groupId' });
      return { ...pb, subscribers: [...pb.subscribers, groupId] };
    });
  }

  async unsubscribe(id: string, groupId: string): Promise<Phonebook> {
    return this.change(id, (pb) => {
      if (!pb.subscribers.includes(groupId)) throw new ModelError('not_found', `usersgroup ${groupId} does not subscribe to the phonebook`);
      return { ...pb, subscribers: pb.subscribers.filter((g) => g !== groupId) };
    });
  }

  async delete(id: string): Promise<void> {
    await retryStale(async () => {
      const stored = await this.docs.get(id);
      if (!stored) throw notFound(id);
      const plan = emptyPlan();
      plan.ops.push(
        ...this.docs.deleteOps(id),
        { op: 'del', key: keys.revision(keys.phonebook(id), stored.rev) },
        ...stored.subscribers.map((g): WriteOp => ({ op: 'srem', key: keys.groupPhonebooks(g), members: [id] })),
      );
      plan.present.push(...revGuards(stored));
      await commit(this.store, plan);
    });
  }

  private change(id: string, next: (pb: Phonebook) => Phonebook): Promise<Phonebook> {
    return retryStale(async () => {
      const stored = await this.docs.get(id);
      if (!stored) throw notFound(id);
      const [current] = await this.present([stored]);
      const want = next(current);
      const updated: StoredPhonebook = { ...want, id, createdAt: stored.createdAt, updatedAt: new Date().toISOString(), rev: stored.rev + 1 };
      const added = updated.subscribers.filter((g) => !stored.subscribers.includes(g));
      const removed = stored.subscribers.filter((g) => !updated.subscribers.includes(g));
      const plan = emptyPlan();
      plan.ops.push(
        ...this.docs.putOps(updated),
        { op: 'del', key: keys.revision(keys.phonebook(id), stored.rev) },
        { op: 'set', key: keys.revision(keys.phonebook(id), updated.rev), value: '1' },
        ...added.map((g): WriteOp => ({ op: 'sadd', key: keys.groupPhonebooks(g), members: [id] })),
        ...removed.map((g): WriteOp => ({ op: 'srem', key: keys.groupPhonebooks(g), members: [id] })),
      );
      plan.present.push(...revGuards(stored), ...groupGuards(added));
      await commit(this.store, plan);
      return publicPhonebook(updated);
    });
  }

  /** Public form: no revision, subscribers whose group is gone left out. */
  private async present(pbs: StoredPhonebook[]): Promise<Phonebook[]> {
    const all = [...new Set(pbs.flatMap((pb) => pb.subscribers))];
    const exists = await this.store.mget(all.map((g) => keys.group(g)));
    const gone = new Set(all.filter((_, i) => exists[i] === null));
    return pbs.map((pb) => publicPhonebook({ ...pb, subscribers: pb.subscribers.filter((g) => !gone.has(g)) }));
  }
}

function publicPhonebook(pb: StoredPhonebook | Phonebook): Phonebook {
  const { id, name, contacts, subscribers, createdAt, updatedAt } = pb;
  return { id, name, contacts, subscribers, createdAt, updatedAt };
}

function notFound(id: string): ModelError {
  return new ModelError('not_found', `phonebook ${id} does not exist`);
}

function validName(name: unknown): string {
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 128) {
    throw new ModelError('invalid', 'name must be 1 to 128 characters', { field: 'name' });
  }
  return name;
}

function validContacts(input: ContactInput[]): Contact[] {
  const names = new Set<string>();
  const ids = new Set<string>();
  return input.map((c, i) => {
    if (typeof c?.name !== 'string' || c.name.trim().length === 0 || c.name.length > 128) {
      throw new ModelError('invalid', `contacts.${i}.name must be 1 to 128 characters`, { field: `contacts.${i}.name` });
    }
    if (typeof c.address !== 'string' || !isContactAddress(c.address)) {
      throw new ModelError('invalid', `contacts.${i}.address must be an E.164 number, a username, username@domain or a group id`, { field: `contacts.${i}.address` });
    }
    if (names.has(c.name)) throw new ModelError('invalid', `contact name ${c.name} appears twice`, { field: `contacts.${i}.name` });
    const id = c.id ?? randomUUID();
    if (ids.has(id)) throw new ModelError('invalid', `contact id ${id} appears twice`, { field: `contacts.${i}.id` });
    names.add(c.name);
    ids.add(id);
    return { id, name: c.name, address: c.address };
  });
}

function validSubscribers(ids: unknown): string[] {
  if (!Array.isArray(ids) || ids.some((g) => typeof g !== 'string' || g.length === 0)) {
    throw new ModelError('invalid', 'subscribers must be a list of user group ids', { field: 'subscribers' });
  }
  return [...new Set(ids as string[])];
}

function revGuards(pb: StoredPhonebook): Plan['present'] {
  return [
    { key: keys.phonebook(pb.id), error: notFound(pb.id) },
    { key: keys.revision(keys.phonebook(pb.id), pb.rev), error: new StaleRevision(`phonebook ${pb.id}`) },
  ];
}

function groupGuards(ids: string[]): Plan['present'] {
  return ids.map((g) => ({ key: keys.group(g), error: new ModelError('not_found', `usersgroup ${g} does not exist`, { field: 'subscribers', subscriber: g }) }));
}
