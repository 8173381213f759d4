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
  /**
   * Appends entries, in order, to the append-only log `log` (records written once and only read in
   * bulk, such as call records). The embedded store keeps a log in a file of its own, outside its
   * key space and not in memory, so that it costs this process nothing per entry; Redis keeps it in
   * the list under the reserved key `log:<name>`. An entry is one line: one with CR or LF rejects the
   * whole append. Resolves only once the entries are durable; an append cut short by a crash may
   * leave the first of its entries (the embedded store keeps whole lines).
   */
  append(log: string, entries: readonly string[]): Promise<void>;
  /** Every entry the log had when called, oldest first; [] for a log never appended to. */
  readLog(log: string): Promise<string[]>;
  close(): Promise<void>;
}

/** Log names double as file names: lower-case letters, digits and dashes. */
const LOG_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** Throws unless `log` is a valid log name and every entry is one line. */
export function checkLog(log: string, entries: readonly string[] = []): void {
  if (!LOG_NAME.test(log)) throw new Error(`invalid log name ${JSON.stringify(log)}`);
  for (const e of entries) {
    if (/[\r\n]/.test(e)) throw new Error(`log ${log}: an entry may not contain CR or LF`);
  }
}

export class WrongTypeError extends Error {
  override name = 'WrongTypeError';
  constructor(key: string, expected: string) {
    super(`WRONGTYPE: key ${JSON.stringify(key)} does not hold a ${expected}`);
  }
}
