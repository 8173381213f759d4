/**
 * User groups ("usersgroups"): a name, an owner that never changes, and participants. Every group has a
 * chat group of the same name whose members are the participants; both documents, the user → groups
 * index and the owner index change in one atomic write, so the chat always follows the group at once.
 *
 * Choices:
 * - The creator is the owner and joins the participants at creation (first in the list), since Quobis
 *   describes the owner as "a participant who can add, change or remove users". Afterwards the
 *   participant list is whatever the owner (or an admin) sets: the owner may leave it and stays owner.
 * - Only the owner or an admin renames, changes participants or deletes; a participant may remove
 *   itself (the SDK's `leave()`).
 * - A deleted user leaves every group (see `commitLeavingGroups`); the groups it owns stay, now managed
 *   by admins only.
 * - Every group write is a compare-and-swap on the group's revision key (keys.revision), retried on a
 *   concurrent change, so two owners' edits never overwrite each other.
 */
import { randomUUID } from 'node:crypto';
import type { Store, WriteOp } from '../store/store';
import { keys } from '../store/keys';
import { Collection } from './collection';
import { ModelError } from './errors';
import { dropOwnerMappingsOps } from './sip-mappings';
import { commit, emptyPlan, mergePlans, Plan } from './plan';

export interface UsersGroup {
  id: string;
  name: string;
  /** The creator's user id; never changes. */
  owner: string;
  /** User ids, in order. */
  participants: string[];
  /** The id of the group's chat group. */
  chatId: string;
  createdAt: string;
  updatedAt: string;
}

/** The chat group of a user group: same name, members = participants; only the group changes it. */
export interface ChatGroup {
  id: string;
  name: string;
  groupId: string;
  members: string[];
  createdAt: string;
  updatedAt: string;
}

/** Who is acting: the owner rule is checked against it. */
export interface Actor {
  id: string;
  admin: boolean;
}

export interface GroupPatch {
  name?: string;
  /** Replaces the participants. */
  participants?: string[];
}

export const PARTICIPANT_MISSING = 'Specified participant does not exist';
export const notOwnerMessage = (userId: string) => `User ${userId} is not the owner of the group`;

interface StoredGroup extends UsersGroup {
  /** Revision, for compare-and-swap; never leaves the model. */
  rev: number;
}

/** A guarded write failed because the document changed since it was read: the change is re-planned. */
export class StaleRevision extends ModelError {
  constructor(what: string) {
    super('conflict', `${what} was changed concurrently; try again`);
  }
}

/** Runs `attempt` again while it fails on a concurrent change. */
export async function retryStale<T>(attempt: () => Promise<T>, tries = 25): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof StaleRevision) || i >= tries) throw err;
      await new Promise((r) => setImmediate(r));
    }
  }
}

const MAX_NAME = 128;

function validName(name: unknown): string {
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > MAX_NAME) {
    throw new ModelError('invalid', `name must be 1 to ${MAX_NAME} characters`, { field: 'name' });
  }
  return name;
}

function validParticipants(ids: unknown): string[] {
  if (!Array.isArray(ids) || ids.some((p) => typeof p !== 'string' || p.length === 0)) {
    throw new ModelError('invalid', 'participants must be a list of user ids', { field: 'participants' });
  }
  return [...new Set(ids as string[])];
}

function publicGroup(g: StoredGroup): UsersGroup {
  const { rev: _rev, ...group } = g;
  return group;
}

export class Groups {
  readonly docs: Collection<StoredGroup>;
  readonly chats: Collection<ChatGroup>;

  constructor(private readonly store: Store) {
    this.docs = new Collection<StoredGroup>(store, 'usersgroup');
    this.chats = new Collection<ChatGroup>(store, 'chatgroup');
  }

  async get(id: string): Promise<UsersGroup | null> {
    const g = await this.docs.get(id);
    return g && publicGroup(g);
  }

  /** The group or a not_found ModelError. */
  async require(id: string): Promise<UsersGroup> {
    const g = await this.get(id);
    if (!g) throw notFound(id);
    return g;
  }

  getChat(chatId: string): Promise<ChatGroup | null> {
    return this.chats.get(chatId);
  }

  async list(): Promise<UsersGroup[]> {
    return (await this.docs.all()).map(publicGroup);
  }

  /** The groups a user participates in, plus (unless `participantOnly`) those it owns. */
  async listForUser(userId: string, opts: { participantOnly?: boolean } = {}): Promise<UsersGroup[]> {
    const ids = new Set(await this.store.smembers(keys.userGroups(userId)));
    if (!opts.participantOnly) for (const id of await this.store.smembers(keys.userOwnedGroups(userId))) ids.add(id);
    return (await this.docs.getMany([...ids])).map(publicGroup);
  }

  /** The chat groups a user is a member of (those of the groups it participates in). */
  async chatsForUser(userId: string): Promise<ChatGroup[]> {
    const groups = await this.docs.getMany(await this.store.smembers(keys.userGroups(userId)));
    return this.chats.getMany(groups.map((g) => g.chatId));
  }

  /** Whether the user may see the group: admin, owner or participant. */
  canRead(group: UsersGroup, actor: Actor): boolean {
    return actor.admin || group.owner === actor.id || group.participants.includes(actor.id);
  }

  /**
   * The ops creating a group owned by `ownerId` (who joins the participants); every participant must
   * exist when the write applies, except ids in `newUsers` (users created in the same write).
   */
  planCreate(input: { name: string; participants?: string[] }, ownerId: string, opts: { newUsers?: string[] } = {}): { group: UsersGroup; plan: Plan } {
    const name = validName(input.name);
    const participants = validParticipants([ownerId, ...(input.participants ?? [])]);
    const now = new Date().toISOString();
    const stored: StoredGroup = { id: randomUUID(), name, owner: ownerId, participants, chatId: randomUUID(), createdAt: now, updatedAt: now, rev: 0 };
    const plan = emptyPlan();
    plan.ops.push(
      ...this.docs.putOps(stored),
      { op: 'set', key: keys.revision(keys.group(stored.id), 0), value: '1' },
      ...this.chats.putOps(chatOf(stored)),
      { op: 'sadd', key: keys.userOwnedGroups(ownerId), members: [stored.id] },
      ...participants.map((p): WriteOp => ({ op: 'sadd', key: keys.userGroups(p), members: [stored.id] })),
    );
    const newUsers = new Set(opts.newUsers ?? []);
    if (!newUsers.has(ownerId)) plan.present.push({ key: keys.user(ownerId), error: new ModelError('not_found', `user ${ownerId} does not exist`) });
    plan.present.push(...participantGuards(participants.filter((p) => p !== ownerId && !newUsers.has(p))));
    return { group: publicGroup(stored), plan };
  }

  async create(input: { name: string; participants?: string[] }, ownerId: string): Promise<UsersGroup> {
    const { group, plan } = this.planCreate(input, ownerId);
    await commit(this.store, plan);
    return group;
  }

  /** Renames and/or replaces the participants; owner or admin only. */
  update(id: string, patch: GroupPatch, actor: Actor): Promise<UsersGroup> {
    const name = patch.name === undefined ? undefined : validName(patch.name);
    const participants = patch.participants === undefined ? undefined : validParticipants(patch.participants);
    return this.change(id, actor, (g) => ({ name: name ?? g.name, participants: participants ?? g.participants }));
  }

  /** Adds one participant; owner or admin only; 409 if it already participates. */
  addParticipant(id: string, userId: string, actor: Actor): Promise<UsersGroup> {
    return this.change(id, actor, (g) => {
      if (g.participants.includes(userId)) throw new ModelError('conflict', `User ${userId} is already a participant of the group`, { field: 'userId' });
      return { name: g.name, participants: [...g.participants, userId] };
    });
  }

  /** Removes one participant; the owner or an admin may remove anyone, a participant itself. */
  removeParticipant(id: string, userId: string, actor: Actor): Promise<UsersGroup> {
    return this.change(
      id, actor,
      (g) => {
        if (!g.participants.includes(userId)) throw new ModelError('not_found', `User ${userId} is not a participant of the group`);
        return { name: g.name, participants: g.participants.filter((p) => p !== userId) };
      },
      actor.id === userId,
    );
  }

  /**
   * The ops adding a user to an existing group, for a write that may also create that user
   * (`newUser`: the user need not exist yet). No owner check: the caller decides who may do this.
   * Two such plans for the same group must not be merged into one write.
   */
  async planAddParticipant(groupId: string, userId: string, opts: { newUser?: boolean } = {}): Promise<Plan> {
    const g = await this.docs.get(groupId);
    if (!g) throw notFound(groupId);
    if (g.participants.includes(userId)) return emptyPlan();
    return this.planChange(g, { name: g.name, participants: [...g.participants, userId] }, opts.newUser ? [userId] : []).plan;
  }

  async delete(id: string, actor: Actor): Promise<void> {
    await retryStale(async () => {
      const g = await this.docs.get(id);
      if (!g) throw notFound(id);
      assertOwner(g, actor);
      const plan = emptyPlan();
      plan.ops.push(
        ...this.docs.deleteOps(id),
        { op: 'del', key: keys.revision(keys.group(id), g.rev) },
        ...this.chats.deleteOps(g.chatId),
        { op: 'srem', key: keys.userOwnedGroups(g.owner), members: [id] },
        ...g.participants.map((p): WriteOp => ({ op: 'srem', key: keys.userGroups(p), members: [id] })),
        // Phonebooks drop subscribers that no longer exist when read (see phonebooks.ts).
        { op: 'del', key: keys.groupPhonebooks(id) },
        ...(await dropOwnerMappingsOps(this.store, `wac-group:${id}`)),
      );
      plan.present.push(...revGuards(g));
      await commit(this.store, plan);
    });
  }

  /** The ops removing a user from every group it participates in (for deleting that user). */
  async planUserLeavesGroups(userId: string): Promise<Plan> {
    const ids = await this.store.smembers(keys.userGroups(userId));
    const groups = await this.docs.getMany(ids);
    const plans = groups
      .filter((g) => g.participants.includes(userId))
      .map((g) => this.planChange(g, { name: g.name, participants: g.participants.filter((p) => p !== userId) }).plan);
    // Every id read is dropped from the index, including stale ones whose group is gone.
    return mergePlans(...plans, { ops: ids.length ? [{ op: 'srem', key: keys.userGroups(userId), members: ids }] : [], absent: [], present: [] });
  }

  private change(id: string, actor: Actor, next: (g: StoredGroup) => { name: string; participants: string[] }, allowed = false): Promise<UsersGroup> {
    return retryStale(async () => {
      const g = await this.docs.get(id);
      if (!g) throw notFound(id);
      if (!allowed) assertOwner(g, actor);
      const { plan, updated } = this.planChange(g, next(g));
      await commit(this.store, plan);
      return publicGroup(updated);
    });
  }

  /** Group + chat + indexes moved from `g` to `next`, guarded by g's revision. */
  private planChange(g: StoredGroup, next: { name: string; participants: string[] }, newUsers: string[] = []): { plan: Plan; updated: StoredGroup } {
    const participants = validParticipants(next.participants);
    const updated: StoredGroup = { ...g, name: next.name, participants, updatedAt: new Date().toISOString(), rev: g.rev + 1 };
    const added = participants.filter((p) => !g.participants.includes(p));
    const removed = g.participants.filter((p) => !participants.includes(p));
    const plan = emptyPlan();
    plan.ops.push(
      ...this.docs.putOps(updated),
      { op: 'del', key: keys.revision(keys.group(g.id), g.rev) },
      { op: 'set', key: keys.revision(keys.group(g.id), updated.rev), value: '1' },
      { op: 'set', key: this.chats.key(g.chatId), value: JSON.stringify(chatOf(updated)) },
      ...added.map((p): WriteOp => ({ op: 'sadd', key: keys.userGroups(p), members: [g.id] })),
      ...removed.map((p): WriteOp => ({ op: 'srem', key: keys.userGroups(p), members: [g.id] })),
    );
    plan.present.push(...revGuards(g), ...participantGuards(added.filter((p) => !newUsers.includes(p))));
    return { plan, updated };
  }
}

/**
 * Commits `plan` (a user's deletion) together with that user leaving all its groups, retrying on a
 * concurrent group change. A group that added the user between the read and the write (possible only
 * while the user still existed) is cleaned up right after, when no further add can succeed.
 */
export async function commitLeavingGroups(store: Store, userId: string, plan: Plan): Promise<void> {
  const groups = new Groups(store);
  await retryStale(async () => commit(store, mergePlans(plan, await groups.planUserLeavesGroups(userId))));
  for (let i = 0; i < 10 && (await store.smembers(keys.userGroups(userId))).length > 0; i++) {
    await retryStale(async () => commit(store, await groups.planUserLeavesGroups(userId)));
  }
}

function chatOf(g: StoredGroup): ChatGroup {
  return { id: g.chatId, name: g.name, groupId: g.id, members: [...g.participants], createdAt: g.createdAt, updatedAt: g.updatedAt };
}

function notFound(id: string): ModelError {
  return new ModelError('not_found', `usersgroup ${id} does not exist`);
}

function assertOwner(g: UsersGroup, actor: Actor): void {
  if (!actor.admin && actor.id !== g.owner) throw new ModelError('forbidden', notOwnerMessage(actor.id));
}

function revGuards(g: StoredGroup): Plan['present'] {
  return [
    { key: keys.group(g.id), error: notFound(g.id) },
    { key: keys.revision(keys.group(g.id), g.rev), error: new StaleRevision(`usersgroup ${g.id}`) },
  ];
}

function participantGuards(ids: string[]): Plan['present'] {
  return ids.map((p) => ({ key: keys.user(p), error: new ModelError('not_found', PARTICIPANT_MISSING, { field: 'participants', participant: p }) }));
}
