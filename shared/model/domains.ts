/**
 * Domains: every user belongs to one, by name. Domains form a tree (`parent`, null at the top).
 * The default domain ([server] domain) is created at start-up (`ensureDefault`), always exists, stays
 * at the top, and cannot be removed or renamed; its other settings may change.
 * A domain that has users or child domains cannot be removed, and one with users cannot be renamed
 * (users refer to their domain by name).
 */
import { randomUUID } from 'node:crypto';
import type { Store } from '../store/store';
import { keys } from '../store/keys';
import { Collection } from './collection';
import { ModelError } from './errors';
import { commit, emptyPlan, Plan } from './plan';

export interface Domain {
  id: string;
  /** The name, e.g. `wac.local`. */
  domain: string;
  /** Parent domain id, or null at the top. */
  parent: string | null;
  /** Allowed web origins (regular expressions as strings, e.g. `/.*\/`). */
  origins: string[];
  enableAnonymous: boolean;
  /** Seconds an anonymous session lasts; 0 = no limit. */
  anonymousExpiration: number;
  anonymousCapabilities: string[];
  createdAt: string;
  updatedAt: string;
}

export type DomainInput = Partial<Omit<Domain, 'id' | 'createdAt' | 'updatedAt'>> & { domain: string };
export type DomainPatch = Partial<Omit<Domain, 'id' | 'createdAt' | 'updatedAt'>>;

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;

export class Domains {
  readonly docs: Collection<Domain>;

  constructor(
    private readonly store: Store,
    /** The default domain's name ([server] domain). */
    readonly defaultDomain: string,
  ) {
    this.docs = new Collection<Domain>(store, 'domain');
  }

  /** Creates the default domain when the store has none by that name; safe to run concurrently. */
  async ensureDefault(): Promise<Domain> {
    const existing = await this.findByName(this.defaultDomain);
    if (existing) return existing;
    try {
      return await this.create({ domain: this.defaultDomain });
    } catch (err) {
      const raced = err instanceof ModelError && err.code === 'conflict' ? await this.findByName(this.defaultDomain) : null;
      if (raced) return raced;
      throw err;
    }
  }

  /** Whether a domain of that name exists (the default one always does). */
  async exists(name: string): Promise<boolean> {
    return name === this.defaultDomain || (await this.store.get(keys.domainByName(name))) !== null;
  }

  /** A guard for a write that needs the domain to exist (e.g. creating a user in it). */
  existsGuard(name: string): Plan['present'][number] {
    return { key: keys.domainByName(name), error: new ModelError('not_found', `domain ${name} does not exist`, { field: 'domain' }) };
  }

  get(id: string): Promise<Domain | null> {
    return this.docs.get(id);
  }

  async require(id: string): Promise<Domain> {
    const d = await this.get(id);
    if (!d) throw notFound(id);
    return d;
  }

  async findByName(name: string): Promise<Domain | null> {
    const id = await this.store.get(keys.domainByName(name));
    return id ? this.get(id) : null;
  }

  list(): Promise<Domain[]> {
    return this.docs.all();
  }

  async create(input: DomainInput): Promise<Domain> {
    const name = validName(input.domain);
    const now = new Date().toISOString();
    const d: Domain = {
      id: randomUUID(),
      domain: name,
      parent: input.parent ?? null,
      origins: input.origins ?? [],
      enableAnonymous: input.enableAnonymous ?? false,
      anonymousExpiration: input.anonymousExpiration ?? 0,
      anonymousCapabilities: input.anonymousCapabilities ?? [],
      createdAt: now,
      updatedAt: now,
    };
    if (name === this.defaultDomain && d.parent !== null) throw new ModelError('invalid', `the default domain ${name} has no parent`, { field: 'parent' });
    const plan = emptyPlan();
    plan.ops.push(...this.docs.putOps(d), { op: 'set', key: keys.domainByName(name), value: d.id });
    plan.absent.push({ key: keys.domainByName(name), error: taken(name) });
    if (d.parent !== null) plan.present.push(parentGuard(d.parent));
    await commit(this.store, plan);
    return d;
  }

  async update(id: string, patch: DomainPatch): Promise<Domain> {
    const d = await this.require(id);
    const isDefault = d.domain === this.defaultDomain;
    const name = patch.domain === undefined ? d.domain : validName(patch.domain);
    const renamed = name !== d.domain;
    if (isDefault && renamed) throw new ModelError('forbidden', `the default domain ${d.domain} cannot be renamed`, { field: 'domain' });
    if (isDefault && patch.parent !== undefined && patch.parent !== null) {
      throw new ModelError('forbidden', `the default domain ${d.domain} cannot have a parent`, { field: 'parent' });
    }
    if (renamed && (await this.hasUsers(d.domain))) {
      throw new ModelError('conflict', `domain ${d.domain} has users; it cannot be renamed`, { field: 'domain' });
    }
    const parent = patch.parent === undefined ? d.parent : patch.parent;
    if (parent !== null && parent !== d.parent) await this.assertNoCycle(id, parent);
    const updated: Domain = { ...d, ...patch, domain: name, parent, id, createdAt: d.createdAt, updatedAt: new Date().toISOString() };
    const plan = emptyPlan();
    plan.ops.push(...this.docs.putOps(updated));
    // Guarded by its name key, so a concurrent rename or removal of the same domain fails cleanly.
    plan.present.push({ key: keys.domain(id), error: notFound(id) }, { key: keys.domainByName(d.domain), error: notFound(id) });
    if (renamed) {
      plan.ops.push({ op: 'del', key: keys.domainByName(d.domain) }, { op: 'set', key: keys.domainByName(name), value: id });
      plan.absent.push({ key: keys.domainByName(name), error: taken(name) });
    }
    if (parent !== null) plan.present.push(parentGuard(parent));
    await commit(this.store, plan);
    return updated;
  }

  async delete(id: string): Promise<void> {
    const d = await this.require(id);
    if (d.domain === this.defaultDomain) throw new ModelError('forbidden', `the default domain ${d.domain} cannot be removed`);
    if (await this.hasUsers(d.domain)) throw new ModelError('conflict', `domain ${d.domain} has users; remove them first`);
    const children = (await this.list()).filter((c) => c.parent === id);
    if (children.length > 0) {
      throw new ModelError('conflict', `domain ${d.domain} has child domains (${children.map((c) => c.domain).join(', ')}); remove them first`);
    }
    const plan = emptyPlan();
    plan.ops.push(...this.docs.deleteOps(id), { op: 'del', key: keys.domainByName(d.domain) });
    plan.present.push({ key: keys.domain(id), error: notFound(id) }, { key: keys.domainByName(d.domain), error: notFound(id) });
    await commit(this.store, plan);
  }

  /** Whether any user has this domain (users are indexed by `user-by-name:<domain>:<username>`). */
  async hasUsers(name: string): Promise<boolean> {
    return (await this.store.keys(`${keys.userByName(name, '')}`)).length > 0;
  }

  private async assertNoCycle(id: string, parent: string): Promise<void> {
    const all = new Map((await this.list()).map((d) => [d.id, d]));
    if (!all.has(parent)) throw new ModelError('not_found', `parent domain ${parent} does not exist`, { field: 'parent' });
    for (let at: string | null = parent, hops = 0; at !== null && hops <= all.size; at = all.get(at)?.parent ?? null, hops++) {
      if (at === id) throw new ModelError('invalid', 'a domain cannot be its own ancestor', { field: 'parent' });
    }
  }
}

function validName(name: unknown): string {
  if (typeof name !== 'string' || name.length > 253 || !NAME.test(name)) {
    throw new ModelError('invalid', `invalid domain name ${JSON.stringify(name)}`, { field: 'domain' });
  }
  return name;
}

function notFound(id: string): ModelError {
  return new ModelError('not_found', `domain ${id} does not exist`);
}

function taken(name: string): ModelError {
  return new ModelError('conflict', `domain ${name} already exists`, { field: 'domain' });
}

function parentGuard(parent: string): Plan['present'][number] {
  return { key: keys.domain(parent), error: new ModelError('not_found', `parent domain ${parent} does not exist`, { field: 'parent' }) };
}
