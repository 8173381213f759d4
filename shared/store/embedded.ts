import fs from 'node:fs';
import path from 'node:path';
import { checkLog, Store, WriteGuard, WriteOp, WrongTypeError } from './store';

/*
 * On-disk layout of an EmbeddedStore directory:
 *   LOCK                 pid of the owning process
 *   snapshot.json        full state as of generation N (absent = empty, N = 0)
 *   journal-<N>.log      one JSON line per acknowledged write batch since that snapshot
 *   log-<name>.lines     an append-only log (Store.append), one entry per line; never in memory
 * Compaction writes snapshot N+1 and starts journal-<N+1>.log, so a crash at
 * any point leaves either the old pair or the new pair intact: journal ops are
 * never replayed over a snapshot that already contains them.
 */

type Value =
  | { t: 'string'; v: string }
  | { t: 'hash'; v: Map<string, string> }
  | { t: 'set'; v: Set<string> };

type Data = Map<string, Value>;

type SnapshotEntry = [string, 'string', string] | [string, 'hash', Record<string, string>] | [string, 'set', string[]];

interface Snapshot {
  version: 1;
  gen: number;
  entries: SnapshotEntry[];
}

export interface EmbeddedStoreOptions {
  /** Compact on open when the journal exceeds this many bytes. */
  compactBytes?: number;
}

const SNAPSHOT = 'snapshot.json';
const LOCK = 'LOCK';
const journalName = (gen: number) => `journal-${gen}.log`;
const logFileName = (log: string) => `log-${log}.lines`;

interface LogFile {
  fd: number;
  /** Bytes of whole lines: where a failed append is cut back to. */
  size: number;
  /** Set when a failed append could not be cut back: the file's tail is unknown. */
  broken?: Error;
}

// Two stores in one process over the same directory would interleave journal
// appends just like two processes would; the pid in LOCK cannot tell them apart.
const lockedDirs = new Set<string>();

export class EmbeddedStore implements Store {
  private closed = false;
  // After a failed append the journal's tail is unknown; refusing further writes
  // keeps memory from diverging from what a restart would replay.
  private broken: Error | undefined;
  private logs = new Map<string, LogFile>();

  private constructor(
    private readonly dir: string,
    private readonly data: Data,
    private readonly fd: number,
  ) {}

  static async open(dir: string, options: EmbeddedStoreOptions = {}): Promise<EmbeddedStore> {
    const compactBytes = options.compactBytes ?? 8 * 1024 * 1024;
    fs.mkdirSync(dir, { recursive: true });
    const realDir = fs.realpathSync(dir);
    acquireLock(realDir);
    try {
      const { data, gen: snapshotGen } = readSnapshot(realDir);
      let gen = snapshotGen;
      const validBytes = replayJournal(path.join(realDir, journalName(gen)), data);
      if (validBytes > compactBytes) {
        gen += 1;
        writeSnapshot(realDir, gen, data);
      }
      removeStaleFiles(realDir, gen);
      const fd = fs.openSync(path.join(realDir, journalName(gen)), 'a');
      // Drop a torn final line so the next append starts on a line boundary.
      if (gen === snapshotGen && fs.fstatSync(fd).size > validBytes) {
        fs.ftruncateSync(fd, validBytes);
        fs.fsyncSync(fd);
      }
      fsyncDir(realDir);
      return new EmbeddedStore(realDir, data, fd);
    } catch (err) {
      releaseLock(realDir);
      throw err;
    }
  }

  async get(key: string): Promise<string | null> {
    const value = this.read(key, 'string');
    return value ? value.v : null;
  }

  async mget(keys: string[]): Promise<(string | null)[]> {
    this.assertOpen();
    return keys.map((key) => {
      const value = this.data.get(key);
      return value?.t === 'string' ? value.v : null;
    });
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    const value = this.read(key, 'hash');
    return value ? Object.fromEntries(value.v) : {};
  }

  async hget(key: string, field: string): Promise<string | null> {
    return this.read(key, 'hash')?.v.get(field) ?? null;
  }

  async smembers(key: string): Promise<string[]> {
    const value = this.read(key, 'set');
    return value ? [...value.v] : [];
  }

  async sismember(key: string, member: string): Promise<boolean> {
    return this.read(key, 'set')?.v.has(member) ?? false;
  }

  async keys(prefix: string): Promise<string[]> {
    this.assertOpen();
    return [...this.data.keys()].filter((key) => key.startsWith(prefix)).sort();
  }

  async incr(key: string): Promise<number> {
    const current = this.read(key, 'string')?.v ?? '0';
    const n = /^-?\d+$/.test(current) ? Number(current) + 1 : NaN;
    if (!Number.isSafeInteger(n)) {
      throw new Error(`incr: key ${JSON.stringify(key)} does not hold an integer`);
    }
    this.commit([{ op: 'set', key, value: String(n) }]);
    return n;
  }

  async write(ops: readonly WriteOp[], guard: WriteGuard = {}): Promise<boolean> {
    this.assertOpen();
    if (guard.absent?.some((key) => this.data.has(key))) return false;
    if (guard.present?.some((key) => !this.data.has(key))) return false;
    this.commit(ops);
    return true;
  }

  async append(log: string, entries: readonly string[]): Promise<void> {
    this.assertOpen();
    checkLog(log, entries);
    if (entries.length === 0) return;
    const file = this.openLog(log);
    if (file.broken) throw new Error(`log ${log} is read-only after a failed append: ${file.broken.message}`);
    const bytes = Buffer.from(`${entries.join('\n')}\n`, 'utf8');
    try {
      writeAllAndSync(file.fd, bytes);
    } catch (err) {
      // A partial append would glue the next one onto a torn line.
      try {
        fs.ftruncateSync(file.fd, file.size);
        fs.fsyncSync(file.fd);
      } catch {
        file.broken = err as Error;
      }
      throw err;
    }
    file.size += bytes.length;
  }

  async readLog(log: string): Promise<string[]> {
    this.assertOpen();
    checkLog(log);
    const name = path.join(this.dir, logFileName(log));
    if (!this.logs.has(log) && !fs.existsSync(name)) return [];
    // Read up to what was acknowledged when called: the read runs on the thread pool while appends
    // go on (and a failed one is cut back). Opening the log cuts a torn line a crash left.
    const end = this.openLog(log).size;
    const buf = await fs.promises.readFile(name);
    // Lines are decoded one by one: the whole log as one string could pass V8's string limit.
    const out: string[] = [];
    for (let start = 0; start < end; ) {
      const lf = buf.indexOf(0x0a, start);
      if (lf < 0) break;
      out.push(buf.toString('utf8', start, lf));
      start = lf + 1;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      fs.closeSync(this.fd);
      for (const file of this.logs.values()) fs.closeSync(file.fd);
    } finally {
      this.logs.clear();
      releaseLock(this.dir);
    }
  }

  private read<T extends Value['t']>(key: string, type: T): Extract<Value, { t: T }> | undefined {
    this.assertOpen();
    const value = this.data.get(key);
    if (value && value.t !== type) throw new WrongTypeError(key, type);
    return value as Extract<Value, { t: T }> | undefined;
  }

  /** The log's file, opened on first use; a torn last line (a crash mid-append) is cut off first. */
  private openLog(log: string): LogFile {
    let file = this.logs.get(log);
    if (!file) {
      const fd = fs.openSync(path.join(this.dir, logFileName(log)), 'a+');
      let size: number;
      try {
        const length = fs.fstatSync(fd).size;
        size = wholeLinesLength(fd, length);
        if (size < length) {
          fs.ftruncateSync(fd, size);
          fs.fsyncSync(fd);
        }
        if (length === 0) fsyncDir(this.dir);
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
      file = { fd, size };
      this.logs.set(log, file);
    }
    return file;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('store is closed');
  }

  // Synchronous from guard check to commit, so no other call can interleave.
  private commit(ops: readonly WriteOp[]): void {
    if (this.broken) throw new Error(`store is read-only after a journal failure: ${this.broken.message}`);
    const undo = applyOps(this.data, ops);
    if (undo.length === 0) return;
    const line = Buffer.from(JSON.stringify({ ops }) + '\n');
    try {
      writeAllAndSync(this.fd, line);
    } catch (err) {
      rollBack(undo);
      this.broken = err as Error;
      throw err;
    }
  }
}

type Undo = () => void;

/**
 * Applies `ops` to `data` in place and returns the steps that take them back (none: nothing
 * changed). A batch that fails half-way (an op on a key of another type) is taken back before the
 * error is thrown. Undoing op by op keeps a write's cost independent of the size of the hashes and
 * sets it touches, which can be large (an index set of every user).
 */
function applyOps(data: Data, ops: readonly WriteOp[]): Undo[] {
  const undo: Undo[] = [];
  const restore = (key: string): Undo => {
    const prev = data.get(key);
    return prev ? () => data.set(key, prev) : () => data.delete(key);
  };
  const container = <T extends 'hash' | 'set'>(key: string, type: T, create: boolean) => {
    let value = data.get(key);
    if (value && value.t !== type) throw new WrongTypeError(key, type);
    if (!value && create) {
      value = (type === 'hash' ? { t: 'hash', v: new Map() } : { t: 'set', v: new Set() }) as Value;
      data.set(key, value);
      undo.push(() => data.delete(key));
    }
    return value as Extract<Value, { t: T }> | undefined;
  };
  const dropIfEmpty = (key: string, value: Value & { v: { size: number } }) => {
    if (value.v.size > 0) return;
    data.delete(key);
    undo.push(() => data.set(key, value));
  };
  try {
    for (const op of ops) {
      switch (op.op) {
        case 'set':
          undo.push(restore(op.key));
          data.set(op.key, { t: 'string', v: op.value });
          break;
        case 'del':
          if (!data.has(op.key)) break;
          undo.push(restore(op.key));
          data.delete(op.key);
          break;
        case 'hset': {
          const entries = Object.entries(op.fields);
          if (entries.length === 0) break;
          const hash = container(op.key, 'hash', true)!.v;
          for (const [field, value] of entries) {
            const old = hash.get(field);
            hash.set(field, value);
            undo.push(old === undefined ? () => hash.delete(field) : () => hash.set(field, old));
          }
          break;
        }
        case 'hdel': {
          const hash = op.fields.length > 0 ? container(op.key, 'hash', false) : undefined;
          if (!hash) break;
          for (const field of op.fields) {
            const old = hash.v.get(field);
            if (old === undefined) continue;
            hash.v.delete(field);
            undo.push(() => hash.v.set(field, old));
          }
          dropIfEmpty(op.key, hash);
          break;
        }
        case 'sadd': {
          if (op.members.length === 0) break;
          const set = container(op.key, 'set', true)!.v;
          for (const member of op.members) {
            if (set.has(member)) continue;
            set.add(member);
            undo.push(() => set.delete(member));
          }
          break;
        }
        case 'srem': {
          const set = op.members.length > 0 ? container(op.key, 'set', false) : undefined;
          if (!set) break;
          for (const member of op.members) {
            if (set.v.delete(member)) undo.push(() => set.v.add(member));
          }
          dropIfEmpty(op.key, set);
          break;
        }
        default:
          throw new Error(`unknown write op ${JSON.stringify(op)}`);
      }
    }
  } catch (err) {
    rollBack(undo);
    throw err;
  }
  return undo;
}

function rollBack(undo: Undo[]): void {
  for (let i = undo.length - 1; i >= 0; i--) undo[i]();
}

function readSnapshot(dir: string): { data: Data; gen: number } {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, SNAPSHOT), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { data: new Map(), gen: 0 };
    throw err;
  }
  const snapshot = JSON.parse(text) as Snapshot;
  if (snapshot.version !== 1) throw new Error(`${path.join(dir, SNAPSHOT)}: unsupported version ${snapshot.version}`);
  const data: Data = new Map();
  for (const [k, type, v] of snapshot.entries) {
    if (type === 'string') data.set(k, { t: 'string', v });
    else if (type === 'hash') data.set(k, { t: 'hash', v: new Map(Object.entries(v)) });
    else data.set(k, { t: 'set', v: new Set(v) });
  }
  return { data, gen: snapshot.gen };
}

/** Applies every complete line to `data`; returns the byte length of those lines. */
function replayJournal(file: string, data: Data): number {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  let start = 0;
  let lineNo = 1;
  // A final segment without '\n' is a write that crashed mid-append and was
  // never acknowledged, so it is skipped; a bad line before it is real corruption.
  for (let end = buf.indexOf(0x0a); end !== -1; end = buf.indexOf(0x0a, start), lineNo++) {
    let ops: WriteOp[];
    try {
      ops = (JSON.parse(buf.subarray(start, end).toString('utf8')) as { ops: WriteOp[] }).ops;
    } catch (err) {
      throw new Error(`${file}: corrupt journal at line ${lineNo}: ${(err as Error).message}`);
    }
    applyOps(data, ops);
    start = end + 1;
  }
  return start;
}

function writeSnapshot(dir: string, gen: number, data: Data): void {
  const entries: SnapshotEntry[] = [...data].map(([k, value]): SnapshotEntry => {
    if (value.t === 'string') return [k, 'string', value.v];
    if (value.t === 'hash') return [k, 'hash', Object.fromEntries(value.v)];
    return [k, 'set', [...value.v]];
  });
  const snapshot: Snapshot = { version: 1, gen, entries };
  const tmp = path.join(dir, `${SNAPSHOT}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeFileSync(fd, JSON.stringify(snapshot));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path.join(dir, SNAPSHOT));
  fsyncDir(dir);
}

/** Writes all of `bytes` at the end of an append-mode file, then waits until they are on disk. */
function writeAllAndSync(fd: number, bytes: Buffer): void {
  for (let off = 0; off < bytes.length; ) off += fs.writeSync(fd, bytes, off);
  fs.fdatasyncSync(fd);
}

/** The length of a file's whole lines: up to and with its last LF (0 if it has none). */
function wholeLinesLength(fd: number, length: number): number {
  const chunk = Buffer.allocUnsafe(64 * 1024);
  for (let end = length; end > 0; ) {
    const start = Math.max(0, end - chunk.length);
    const n = fs.readSync(fd, chunk, 0, end - start, start);
    const lf = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (lf >= 0) return start + lf + 1;
    end = start;
  }
  return 0;
}

function removeStaleFiles(dir: string, gen: number): void {
  for (const name of fs.readdirSync(dir)) {
    if ((/^journal-\d+\.log$/.test(name) && name !== journalName(gen)) || name === `${SNAPSHOT}.tmp`) {
      fs.rmSync(path.join(dir, name), { force: true });
    }
  }
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function acquireLock(dir: string): void {
  if (lockedDirs.has(dir)) throw new Error(`store directory ${dir} is already open in this process`);
  const lockFile = path.join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      lockedDirs.add(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner: number;
    try {
      owner = Number.parseInt(fs.readFileSync(lockFile, 'utf8'), 10);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    // Our own pid in the file means a previous incarnation (pid 1 in a restarted
    // container), since this process does not hold the lock.
    if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
      throw new Error(`store directory ${dir} is locked by running process ${owner} (${lockFile})`);
    }
    fs.rmSync(lockFile, { force: true });
  }
  throw new Error(`could not take the lock ${lockFile}`);
}

function releaseLock(dir: string): void {
  lockedDirs.delete(dir);
  fs.rmSync(path.join(dir, LOCK), { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
