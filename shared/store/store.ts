/**
 * Low-level key/value primitives, deliberately Redis-shaped so that the
 * embedded store and a Redis store can sit under one model layer.
 *
 * A key holds exactly one type: a string, a hash (field -> string) or a set of
 * strings. Reading a key through a primitive of another type rejects (Redis
 * WRONGTYPE), except `mget`, which yields null for non-string keys as Redis does.
 * Hashes and sets that become empty cease to exist.
 */
export type WriteOp =
  | { op: 'set'; key: string; value: string }
  | { op: 'del'; key: string }
  | { op: 'hset'; key: string; fields: Record<string, string> }
  | { op: 'hdel'; key: string; fields: readonly string[] }
  | { op: 'sadd'; key: string; members: readonly string[] }
  | { op: 'srem'; key: string; members: readonly string[] };

export interface WriteGuard {
  /** Keys that must not exist. */
  absent?: readonly string[];
  /** Keys that must exist. */
  present?: readonly string[];
}

export interface Store {
  get(key: string): Promise<string | null>;
  mget(keys: string[]): Promise<(string | null)[]>;
  /** `{}` when the key does not exist. */
  hgetall(key: string): Promise<Record<string, string>>;
  hget(key: string, field: string): Promise<string | null>;
  smembers(key: string): Promise<string[]>;
  sismember(key: string, member: string): Promise<boolean>;
  /** Every key starting with `prefix`, in no particular order. */
  keys(prefix: string): Promise<string[]>;
  /** Increments an integer string key (missing = 0) and returns the new value. */
  incr(key: string): Promise<number>;
  /**
   * Applies `ops` in order, all or nothing, provided the guard holds when they
   * are applied. Resolves false (and writes nothing) if the guard fails; rejects
   * (and writes nothing) if an op hits a key of another type. Resolves only once
   * the batch is durable.
   */
  write(ops: readonly WriteOp[], guard?: WriteGuard): Promise<boolean>;
  close(): Promise<void>;
}

export class WrongTypeError extends Error {
  override name = 'WrongTypeError';
  constructor(key: string, expected: string) {
    super(`WRONGTYPE: key ${JSON.stringify(key)} does not hold a ${expected}`);
  }
}
