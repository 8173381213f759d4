/**
 * Who an initial request is for. A local caller may reach a user, a group (by its id), the owner of a
 * SIP mapping, or — for any other number — the trunk, presenting its own mapped identity. A trunk may
 * reach only mapped identities.
 */
import type { TrunkConfig } from '../../shared/config';
import type { Groups, UsersGroup } from '../../shared/model/groups';
import { parseOwnerUri, type SipMappings } from '../../shared/model/sip-mappings';
import type { User, Users } from '../../shared/model/users';
import { parseSipUri } from '../sip/uri';
import type { Trunks } from '../trunk/trunks';

export type Caller = { kind: 'user'; user: User } | { kind: 'trunk'; trunk: TrunkConfig };

export type Target =
  | { kind: 'server' }
  | { kind: 'user'; user: User }
  | { kind: 'group'; group: UsersGroup }
  | { kind: 'trunk'; trunk: TrunkConfig; number: string; presented: string }
  | { kind: 'refused'; status: number; reason?: string };

export interface Directory {
  users: Users;
  groups: Groups;
  mappings: SipMappings;
  trunks: Trunks;
  groupsEnabled: boolean;
}

export class TargetResolver {
  private readonly hosts: Set<string>;

  constructor(private readonly domain: string, localHosts: string[], private readonly dir: Directory) {
    this.hosts = new Set([domain, ...localHosts].map((h) => h.toLowerCase()));
  }

  /** Whether a Request-URI names this server (its domain or one of its addresses). */
  isLocal(requestUri: string): boolean {
    const uri = parseSipUri(requestUri);
    return !!uri && this.hosts.has(uri.host);
  }

  /** The server itself: a Request-URI of ours without a user part. */
  isServer(requestUri: string): boolean {
    const uri = parseSipUri(requestUri);
    return !!uri && this.hosts.has(uri.host) && !uri.user;
  }

  async resolve(requestUri: string, caller: Caller): Promise<Target> {
    const uri = parseSipUri(requestUri)!;
    if (!this.hosts.has(uri.host) && caller.kind === 'user') return { kind: 'refused', status: 403, reason: 'Relaying Denied' };
    if (!uri.user) return { kind: 'server' };
    if (caller.kind === 'trunk') return (await this.mapped(uri.user)) ?? { kind: 'refused', status: 404 };
    return (await this.local(uri.user)) ?? (await this.mapped(uri.user)) ?? (await this.outbound(uri.user, caller.user));
  }

  /** A forward's destination: a username, a group id, a mapped identity or a number for the trunk. */
  async destination(name: string, forwarder: User): Promise<Target> {
    return (await this.local(name)) ?? (await this.mapped(name)) ?? (await this.outbound(name, forwarder));
  }

  private async local(name: string): Promise<Target | null> {
    const user = await this.dir.users.findByName(this.domain, name);
    if (user) return { kind: 'user', user };
    return this.group(name);
  }

  private async group(id: string): Promise<Target | null> {
    if (!this.dir.groupsEnabled) return null;
    const group = await this.dir.groups.get(id);
    return group ? { kind: 'group', group } : null;
  }

  private async mapped(name: string): Promise<Target | null> {
    const m = await this.dir.mappings.findByUsername(name);
    const owner = m ? parseOwnerUri(m.ownerUri) : null;
    if (!owner) return null;
    if (owner.kind === 'group') return this.group(owner.id);
    const user = await this.dir.users.get(owner.id);
    return user ? { kind: 'user', user } : null;
  }

  private async outbound(number: string, caller: User): Promise<Target> {
    const trunk = this.dir.trunks.outbound();
    if (!trunk) return { kind: 'refused', status: 404 };
    const own = await this.dir.mappings.byOwner(`wac-user:${caller.id}`);
    if (own.length === 0) return { kind: 'refused', status: 403, reason: 'No SIP Identity To Present' };
    return { kind: 'trunk', trunk, number, presented: own[0].credential.username };
  }
}
