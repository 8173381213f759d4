/**
 * Users and groups by id, for the places the API names them by id only: owners of SIP mappings,
 * participants, the parties of live calls; and for the pickers that choose them.
 */
import { HttpError } from '../shared/api';
import type { Session } from './session';
import type { Group, List, User } from './types';

/** The API's largest page: enough for the size of deployment this console is meant for. */
const MAX = 1000;

export class Directory {
  private users = new Map<string, User>();
  private groups = new Map<string, Group>();
  /** Why there are no groups, when the UsersGroup service is off. */
  groupsUnavailable = '';
  private loadedAt = 0;
  private loading: Promise<void> | undefined;
  /** Bumped by `invalidate`: a load started before a change must not pass for fresh. */
  private generation = 0;

  constructor(private readonly session: Session) {}

  /** Loads when something changed since the last load (see `invalidate`) or it is older than `maxAgeMs`. */
  ensure(maxAgeMs = Infinity): Promise<void> {
    if (this.loadedAt !== 0 && Date.now() - this.loadedAt < maxAgeMs) return Promise.resolve();
    const loading = this.loading ?? this.load().finally(() => {
      if (this.loading === loading) this.loading = undefined;
    });
    this.loading = loading;
    return loading;
  }

  /** After a user or group was created, changed or deleted here. */
  invalidate(): void {
    this.generation++;
    this.loadedAt = 0;
    this.loading = undefined;
  }

  userList(): User[] {
    return [...this.users.values()];
  }

  groupList(): Group[] {
    return [...this.groups.values()];
  }

  /** A user's username or a group's name, else undefined. */
  name(id: string): string | undefined {
    return this.users.get(id)?.username ?? this.groups.get(id)?.name;
  }

  /** A SIP mapping's owner (`wac-user:<id>` / `wac-group:<id>`) as the admin knows it. */
  owner(uri: string): string {
    const m = /^wac-(user|group):(.*)$/.exec(uri);
    if (!m) return uri;
    const name = m[1] === 'user' ? this.users.get(m[2])?.username : this.groups.get(m[2])?.name;
    return name ? `${m[1]} ${name}` : uri;
  }

  private async load(): Promise<void> {
    const generation = this.generation;
    const [users, groups] = await Promise.all([
      this.session.api<List<User>>('GET', `/users?order=username&limit=${MAX}`),
      this.session.api<List<Group>>('GET', `/usersgroups?order=name&limit=${MAX}`).catch((err: unknown) => {
        if (err instanceof HttpError && err.code === 'service_disabled') return err;
        throw err;
      }),
    ]);
    if (generation !== this.generation) return;
    this.users = new Map(users.items.map((u) => [u.id, u]));
    this.groups = groups instanceof HttpError ? new Map() : new Map(groups.items.map((g) => [g.id, g]));
    this.groupsUnavailable = groups instanceof HttpError ? groups.message : '';
    this.loadedAt = Date.now();
  }
}
