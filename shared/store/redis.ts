import Redis, { ReplyError } from '../ioredis';
import { checkLog, Store, WriteGuard, WriteOp, WrongTypeError } from './store';

/*
 * Store over a Redis server (via ioredis).
 *
 * Durability: `write`, `incr` and `append` resolve when Redis acknowledges them, so how
 * durable an acknowledged write is depends on the server's persistence
 * settings, not on this client. With `appendonly yes` + `appendfsync always`
 * (what the tests run) Redis fsyncs the AOF before replying, so every
 * acknowledged write survives a crash or restart of redis-server, as the Store
 * contract promises. Production should set `appendfsync` to match the
 * durability it wants: `everysec` (the Redis default) can lose up to about a
 * second of acknowledged writes on a host crash; RDB snapshots alone can lose
 * everything since the last snapshot.
 */

/**
 * One guarded batch, atomically: guards, then a type check of every op against
 * the state the earlier ops of the batch leave behind, then the writes. Redis
 * does not roll back a script that fails half-way, so nothing is written until
 * every check has passed.
 *
 * KEYS: every key the batch touches. ARGV[1]: JSON
 *   { ops: [[name, keyIndex, arg...]], absent: [keyIndex], present: [keyIndex] }
 * where hset's args are field, value, field, value... and the other ops' args
 * are fields/members (set: the value).
 * Returns 1 (written), 0 (guard failed) or { 'WRONGTYPE', key, expectedType }.
 */
const WRITE_SCRIPT = `
local req = cjson.decode(ARGV[1])
for _, i in ipairs(req.absent) do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
for _, i in ipairs(req.present) do
  if redis.call('EXISTS', KEYS[i]) == 0 then return 0 end
end

-- Keys an hdel/srem touches may become empty, hence cease to exist, mid-batch,
-- which changes what a later op on them may do: track their members exactly.
local tracked = {}
for _, op in ipairs(req.ops) do
  if op[1] == 'hdel' or op[1] == 'srem' then tracked[op[2]] = true end
end

local sim = {}
local function state(i)
  local s = sim[i]
  if s == nil then
    s = { t = redis.call('TYPE', KEYS[i]).ok }
    if tracked[i] then
      s.m = {}
      s.n = 0
      local list = nil
      if s.t == 'hash' then list = redis.call('HKEYS', KEYS[i])
      elseif s.t == 'set' then list = redis.call('SMEMBERS', KEYS[i]) end
      if list then
        for _, x in ipairs(list) do s.m[x] = true; s.n = s.n + 1 end
      end
    end
    sim[i] = s
  end
  return s
end

local function reset(s, t)
  s.t = t
  if s.m ~= nil then s.m = {}; s.n = 0 end
end

local function add(s, x)
  if s.m ~= nil and not s.m[x] then s.m[x] = true; s.n = s.n + 1 end
end

local function remove(s, x)
  if s.m ~= nil and s.m[x] then s.m[x] = nil; s.n = s.n - 1 end
end

local kinds = { hset = 'hash', hdel = 'hash', sadd = 'set', srem = 'set' }
for _, op in ipairs(req.ops) do
  local name, i = op[1], op[2]
  if name == 'set' then
    reset(state(i), 'string')
  elseif name == 'del' then
    reset(state(i), 'none')
  elseif #op > 2 then
    -- An hset/hdel/sadd/srem with nothing to change is a no-op, unchecked.
    local kind = kinds[name]
    local creates = name == 'hset' or name == 'sadd'
    local s = state(i)
    if s.t == 'none' then
      -- hdel/srem on a missing key change nothing.
      if creates then reset(s, kind) end
    elseif s.t ~= kind then
      return { 'WRONGTYPE', KEYS[i], kind }
    end
    if s.t == kind then
      if creates then
        local step = name == 'hset' and 2 or 1
        for j = 3, #op, step do add(s, op[j]) end
      else
        for j = 3, #op do remove(s, op[j]) end
        if s.m ~= nil and s.n == 0 then reset(s, 'none') end
      end
    end
  end
end

local commands = { set = 'SET', del = 'DEL', hset = 'HSET', hdel = 'HDEL', sadd = 'SADD', srem = 'SREM' }
local CHUNK = 1000
for _, op in ipairs(req.ops) do
  local name, key = op[1], KEYS[op[2]]
  if name == 'set' then
    redis.call('SET', key, op[3])
  elseif name == 'del' then
    redis.call('DEL', key)
  else
    -- unpack() is bounded by the Lua stack, so send long lists in chunks
    -- (an even size keeps hset's field/value pairs together).
    for j = 3, #op, CHUNK do
      redis.call(commands[name], key, unpack(op, j, math.min(j + CHUNK - 1, #op)))
    end
  end
end
return 1
`;

type WriteReply = 0 | 1 | [string, string, string];

interface RedisWithWrite extends Redis {
  wacWrite(numKeys: number, ...args: string[]): Promise<WriteReply>;
}

export interface RedisStoreOptions {
  /** How long open() waits for the first connection. Default 5000 ms. */
  connectTimeoutMs?: number;
}

export class RedisStore implements Store {
  private closed = false;

  private constructor(
    private readonly client: RedisWithWrite,
    readonly url: string,
  ) {}

  /** Connects to `url` (redis://[user:pass@]host:port[/db]); rejects if Redis cannot be reached. */
  static async open(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const client = (await connectRedis(url, options.connectTimeoutMs)) as RedisWithWrite;
    client.defineCommand('wacWrite', { lua: WRITE_SCRIPT });
    return new RedisStore(client, url);
  }

  get(key: string): Promise<string | null> {
    return this.run(() => this.client.get(key), key, 'string');
  }

  async mget(keys: string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return this.run(async () => []);
    return this.run(() => this.client.mget(keys));
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    // ioredis defines '__proto__' and the like as own properties.
    return this.run(() => this.client.hgetall(key), key, 'hash');
  }

  hget(key: string, field: string): Promise<string | null> {
    return this.run(() => this.client.hget(key, field), key, 'hash');
  }

  smembers(key: string): Promise<string[]> {
    return this.run(() => this.client.smembers(key), key, 'set');
  }

  async sismember(key: string, member: string): Promise<boolean> {
    return (await this.run(() => this.client.sismember(key, member), key, 'set')) === 1;
  }

  async keys(prefix: string): Promise<string[]> {
    const match = `${escapeGlob(prefix)}*`;
    const found = new Set<string>();
    await this.run(async () => {
      let cursor = '0';
      do {
        const [next, batch] = await this.client.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        for (const key of batch) found.add(key);
        cursor = next;
      } while (cursor !== '0');
    });
    return [...found].sort();
  }

  incr(key: string): Promise<number> {
    return this.run(() => this.client.incr(key), key, 'string');
  }

  async write(ops: readonly WriteOp[], guard: WriteGuard = {}): Promise<boolean> {
    const keys: string[] = [];
    const index = new Map<string, number>();
    // Lua arrays are 1-based.
    const ref = (key: string): number => {
      let i = index.get(key);
      if (i === undefined) {
        keys.push(key);
        i = keys.length;
        index.set(key, i);
      }
      return i;
    };
    const encoded = ops.map((op): (string | number)[] => {
      switch (op.op) {
        case 'set':
          return [op.op, ref(op.key), op.value];
        case 'del':
          return [op.op, ref(op.key)];
        case 'hset':
          return [op.op, ref(op.key), ...Object.entries(op.fields).flat()];
        case 'hdel':
          return [op.op, ref(op.key), ...op.fields];
        case 'sadd':
        case 'srem':
          return [op.op, ref(op.key), ...op.members];
        default:
          throw new Error(`unknown write op ${JSON.stringify(op)}`);
      }
    });
    const request = JSON.stringify({
      ops: encoded,
      absent: (guard.absent ?? []).map(ref),
      present: (guard.present ?? []).map(ref),
    });
    // cjson decodes [] as an empty table, so empty lists survive the trip.
    const reply = await this.run(() => this.client.wacWrite(keys.length, ...keys, request));
    if (reply === 1) return true;
    if (reply === 0) return false;
    if (Array.isArray(reply) && reply[0] === 'WRONGTYPE') throw new WrongTypeError(reply[1], reply[2]);
    throw new Error(`unexpected reply from the write script: ${JSON.stringify(reply)}`);
  }

  async append(log: string, entries: readonly string[]): Promise<void> {
    checkLog(log, entries);
    if (entries.length === 0) return this.run(async () => undefined);
    await this.run(() => this.client.rpush(logKey(log), ...entries), logKey(log), 'list');
  }

  async readLog(log: string): Promise<string[]> {
    checkLog(log);
    return this.run(() => this.client.lrange(logKey(log), 0, -1), logKey(log), 'list');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.client.quit();
    } catch {
      // Already disconnected: nothing left to flush.
      this.client.disconnect();
    }
  }

  /** Runs a command unless closed, mapping Redis WRONGTYPE on `key` to WrongTypeError. */
  private async run<T>(command: () => Promise<T>, key?: string, type?: string): Promise<T> {
    if (this.closed) throw new Error('store is closed');
    try {
      return await command();
    } catch (err) {
      if (key !== undefined && type !== undefined && err instanceof ReplyError && /^WRONGTYPE/.test((err as Error).message)) {
        throw new WrongTypeError(key, type);
      }
      throw err;
    }
  }
}

/** Where a log lives: a Redis list, so appending and reading it are single commands. */
const logKey = (log: string) => `log:${log}`;

/** Escapes the characters SCAN MATCH treats as glob syntax. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

/** A connected client for `url` (redis://[user:pass@]host:port[/db]); rejects if Redis cannot be reached. */
export async function connectRedis(url: string, connectTimeoutMs = 5000): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    // Commands issued while the connection is down wait for a reconnect (the
    // retry strategy keeps trying) but give up after a few attempts.
    maxRetriesPerRequest: 3,
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
  // Without a listener, ioredis logs every connection error to the console;
  // failed commands reject on their own.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    client.disconnect();
    throw new Error(`cannot connect to Redis at ${redactUrl(url)}: ${(err as Error).message}`);
  }
  return client;
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
