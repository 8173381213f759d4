import { createHash, randomBytes, randomUUID, scrypt, timingSafeEqual } from 'node:crypto';
import type { Store, WriteOp } from '../store/store';
import { keys } from '../store/keys';

export type Role = 'admin' | 'user' | 'anonymous';

export interface User {
  id: string;
  domain: string;
  username: string;
  role: Role;
  email?: string;
  createdAt: string;
}

export interface NewUser {
  domain: string;
  username: string;
  password?: string;
  role?: Role;
  email?: string;
}

export type ModelErrorCode = 'conflict' | 'not_found' | 'invalid';

export class ModelError extends Error {
  override name = 'ModelError';
  constructor(
    readonly code: ModelErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const ROLES: readonly Role[] = ['admin', 'user', 'anonymous'];

// N=2^14, r=8 costs ~16 MiB and tens of ms per check: slow enough to hurt offline
// guessing, cheap enough for interactive admin logins.
const SCRYPT = { N: 16384, r: 8, p: 1, keyLen: 32, saltLen: 16 };

export class Users {
  constructor(private readonly store: Store) {}

  async create(input: NewUser): Promise<User> {
    const { domain, username, password, role = 'user', email } = input;
    validateName(domain, username);
    if (!ROLES.includes(role)) throw new ModelError('invalid', `role must be one of ${ROLES.join(', ')}`);
    if (password !== undefined) validatePassword(password);

    const user: User = {
      id: randomUUID(),
      domain,
      username,
      role,
      ...(email !== undefined && { email }),
      createdAt: new Date().toISOString(),
    };
    const ops: WriteOp[] = [
      { op: 'hset', key: keys.user(user.id), fields: { ...user } },
      { op: 'set', key: keys.userByName(domain, username), value: user.id },
    ];
    if (password !== undefined) {
      ops.push({ op: 'hset', key: keys.basicCredential(user.id), fields: await credential(domain, username, password) });
    }
    const written = await this.store.write(ops, { absent: [keys.userByName(domain, username)] });
    if (!written) throw new ModelError('conflict', `user ${username} already exists in ${domain}`);
    return user;
  }

  async get(id: string): Promise<User | null> {
    const fields = await this.store.hgetall(keys.user(id));
    return fields.id ? toUser(fields) : null;
  }

  async findByName(domain: string, username: string): Promise<User | null> {
    const id = await this.store.get(keys.userByName(domain, username));
    return id ? this.get(id) : null;
  }

  async setPassword(userId: string, password: string): Promise<void> {
    validatePassword(password);
    const user = await this.get(userId);
    if (!user) throw new ModelError('not_found', `no user ${userId}`);
    const fields = await credential(user.domain, user.username, password);
    // The guard catches a user removed while scrypt was running.
    const written = await this.store.write([{ op: 'hset', key: keys.basicCredential(userId), fields }], {
      present: [keys.user(userId)],
    });
    if (!written) throw new ModelError('not_found', `no user ${userId}`);
  }

  /** HA1 for digest auth with realm = domain, or null if the user has no password. */
  async digestHa1(domain: string, username: string): Promise<string | null> {
    const id = await this.store.get(keys.userByName(domain, username));
    return id ? this.store.hget(keys.basicCredential(id), 'ha1') : null;
  }

  async verifyPassword(userId: string, password: string): Promise<boolean> {
    const stored = await this.store.hget(keys.basicCredential(userId), 'hash');
    if (!stored) return false;
    const [scheme, n, r, p, salt, hash] = stored.split('$');
    if (scheme !== 'scrypt' || hash === undefined) return false;
    const expected = Buffer.from(hash, 'base64');
    const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), expected.length, {
      N: Number(n),
      r: Number(r),
      p: Number(p),
    });
    return timingSafeEqual(actual, expected);
  }
}

async function credential(domain: string, username: string, password: string): Promise<Record<string, string>> {
  const ha1 = createHash('md5').update(`${username}:${domain}:${password}`).digest('hex');
  const { N, r, p, keyLen, saltLen } = SCRYPT;
  const salt = randomBytes(saltLen);
  const hash = await scryptAsync(password, salt, keyLen, { N, r, p });
  return { ha1, hash: ['scrypt', N, r, p, salt.toString('base64'), hash.toString('base64')].join('$') };
}

function scryptAsync(password: string, salt: Buffer, keyLen: number, params: { N: number; r: number; p: number }) {
  return new Promise<Buffer>((resolve, reject) => {
    // maxmem follows the parameters so hashes stored with a higher cost still verify.
    scrypt(password, salt, keyLen, { ...params, maxmem: 256 * params.N * params.r * params.p }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

function toUser(fields: Record<string, string>): User {
  return {
    id: fields.id,
    domain: fields.domain,
    username: fields.username,
    role: fields.role as Role,
    ...(fields.email !== undefined && { email: fields.email }),
    createdAt: fields.createdAt,
  };
}

// ':' would make the digest input `username:realm:password` ambiguous, and
// whitespace/'@' cannot appear unescaped in a SIP URI user part.
function validateName(domain: string, username: string): void {
  if (!/^[A-Za-z0-9.-]+$/.test(domain)) throw new ModelError('invalid', `invalid domain ${JSON.stringify(domain)}`);
  if (!username || /[\s:@\p{Cc}]/u.test(username)) {
    throw new ModelError('invalid', `invalid username ${JSON.stringify(username)}`);
  }
}

function validatePassword(password: string): void {
  if (password.length === 0) throw new ModelError('invalid', 'password must not be empty');
}
