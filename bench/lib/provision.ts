/**
 * Writes the bench's users straight into a store (embedded or Redis) before the server starts,
 * through the server's own model classes, so the keys and documents are exactly what the admin API
 * would write. The one shortcut: the load users' slow password hash (scrypt, only used for admin API
 * logins, never by SIP digest) is made with N=16 instead of N=16384, in the same
 * `scrypt$N$r$p$salt$hash` format that verifySlowHash reads, so 50,000 users take seconds instead of
 * about 40 minutes. The SIP digest HA1 is the real one.
 */
import type { Store } from '../../shared/store/store';
import { Credentials } from '../../shared/model/credentials';
import { Groups } from '../../shared/model/groups';
import { commit, mergePlans, Plan } from '../../shared/model/plan';
import { slowHash } from '../../shared/model/secret';
import { SipMappings } from '../../shared/model/sip-mappings';
import { User, Users } from '../../shared/model/users';

/** Users whose password hash is cheap to make (see the file comment). */
class BulkUsers extends Users {
  protected override hashPassword(password: string): Promise<string> {
    return slowHash(password, { N: 16 });
  }
}

export const loadUser = (i: number): string => `u${String(i).padStart(6, '0')}`;
export const passwordOf = (user: string): string => `pw-${user}`;

export interface Provisioned {
  users: number;
  ms: number;
}

/**
 * Load users u000001..u<n> (password pw-<user>), the callee and g1m1..g1m3, the group g1m1+g1m2+g1m3,
 * and the SIP mappings `callee` -> callee and `group1` -> the group (what a trunk call can reach).
 */
export async function provision(store: Store, domain: string, n: number, log: (s: string) => void): Promise<Provisioned> {
  const t0 = Date.now();
  const users = new BulkUsers(store);
  const creds = new Credentials(store, users);
  const batch = 2000;
  const named = new Map<string, User>();
  const all = [...Array.from({ length: n }, (_, i) => loadUser(i + 1)), 'callee', 'g1m1', 'g1m2', 'g1m3'];
  for (let start = 0; start < all.length; start += batch) {
    const plans: Plan[] = [];
    for (const username of all.slice(start, start + batch)) {
      const { user, plan } = users.planCreate({ domain, username });
      const basic = await creds.planCreate({ type: 'basic', data: { password: passwordOf(username) } }, { newUser: user });
      plans.push(plan, basic.plan);
      if (!username.startsWith('u')) named.set(username, user);
    }
    await commit(store, mergePlans(...plans));
    if (start > 0 && (start / batch) % 10 === 0) log(`  provisioned ${start} users`);
  }
  const groups = new Groups(store);
  const group = await groups.create({ name: 'group1', participants: [named.get('g1m2')!.id, named.get('g1m3')!.id] }, named.get('g1m1')!.id);
  const mappings = new SipMappings(store, { realm: domain });
  await mappings.create({ ownerUri: `wac-user:${named.get('callee')!.id}`, credential: { username: 'callee' } });
  await mappings.create({ ownerUri: `wac-group:${group.id}`, credential: { username: 'group1' } });
  return { users: all.length, ms: Date.now() - t0 };
}
