import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { parseConfig } from '../../shared/config';
import { EmbeddedStore, openStore } from '../../shared/store';
import { expectRejects, storeContract } from './store-contract';

const repoRoot = path.resolve(__dirname, '../..');

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'wac-store-'));
}

storeContract('EmbeddedStore', async () => {
  const dir = tempDir();
  return {
    open: () => EmbeddedStore.open(dir),
    cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
});

/** Runs a script in a separate node process that SIGKILLs itself when done. */
function runAndCrash(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', '-e', script], { cwd: repoRoot });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      signal === 'SIGKILL' ? resolve(out) : reject(new Error(`child exited ${code}: ${err}`)),
    );
  });
}

describe('EmbeddedStore', () => {
  let dir: string;
  let store: EmbeddedStore | undefined;

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    await store?.close();
    store = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const journal = (gen = 0) => path.join(dir, `journal-${gen}.log`);

  it('creates a missing directory', async () => {
    const nested = path.join(dir, 'a', 'b');
    store = await EmbeddedStore.open(nested);
    await store.write([{ op: 'set', key: 'k', value: 'v' }]);
    expect(fs.existsSync(path.join(nested, 'journal-0.log'))).to.equal(true);
  });

  it('journals each batch as one line', async () => {
    store = await EmbeddedStore.open(dir);
    await store.write([
      { op: 'set', key: 'a', value: '1' },
      { op: 'sadd', key: 'z', members: ['x'] },
    ]);
    await store.write([{ op: 'del', key: 'a' }]);
    await store.write([{ op: 'set', key: 'b', value: '2' }], { absent: ['z'] });
    const lines = fs.readFileSync(journal(), 'utf8').split('\n');
    expect(lines).to.have.length(3);
    expect(lines[2]).to.equal('');
  });

  describe('crash recovery', () => {
    it('keeps an acknowledged write when the process is killed without closing', async () => {
      const out = await runAndCrash(`
        const { EmbeddedStore } = require('./shared/store/embedded');
        EmbeddedStore.open(${JSON.stringify(dir)}).then(async (s) => {
          await s.write([{ op: 'set', key: 'acked', value: 'yes' }]);
          await s.incr('n');
          process.stdout.write('acked', () => process.kill(process.pid, 'SIGKILL'));
        });
      `);
      expect(out).to.equal('acked');
      expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8').trim()).to.match(/^\d+$/);
      store = await EmbeddedStore.open(dir);
      expect(await store.get('acked')).to.equal('yes');
      expect(await store.get('n')).to.equal('1');
    });

    it('ignores a truncated final journal line and appends after the last good one', async () => {
      store = await EmbeddedStore.open(dir);
      await store.write([{ op: 'set', key: 'a', value: '1' }]);
      await store.write([{ op: 'hset', key: 'h', fields: { f: 'v' } }]);
      await store.close();
      fs.appendFileSync(journal(), '{"ops":[{"op":"set","key":"torn","va');

      store = await EmbeddedStore.open(dir);
      expect(await store.get('a')).to.equal('1');
      expect(await store.hgetall('h')).to.deep.equal({ f: 'v' });
      expect(await store.get('torn')).to.equal(null);
      await store.write([{ op: 'set', key: 'after', value: '2' }]);
      await store.close();

      store = await EmbeddedStore.open(dir);
      expect(await store.get('after')).to.equal('2');
      expect(await store.get('a')).to.equal('1');
      expect(fs.readFileSync(journal(), 'utf8')).not.to.contain('torn');
    });

    it('keeps a log out of memory and the journal, and cuts a torn last entry before appending', async () => {
      store = await EmbeddedStore.open(dir);
      await store.append('calls', ['{"n":1}', '{"n":2}']);
      await store.close();
      const file = path.join(dir, 'log-calls.lines');
      expect(fs.readFileSync(file, 'utf8')).to.equal('{"n":1}\n{"n":2}\n');
      expect(fs.readFileSync(journal(), 'utf8')).to.equal('');
      // a long torn entry: the search for the last whole line crosses read chunks
      fs.appendFileSync(file, `{"n":3,"pad":"${'x'.repeat(200_000)}`);

      store = await EmbeddedStore.open(dir);
      expect(await store.readLog('calls')).to.deep.equal(['{"n":1}', '{"n":2}']);
      await store.append('calls', ['{"n":4}']);
      expect(await store.readLog('calls')).to.deep.equal(['{"n":1}', '{"n":2}', '{"n":4}']);
      expect(fs.readFileSync(file, 'utf8')).to.equal('{"n":1}\n{"n":2}\n{"n":4}\n');
    });

    it('ignores a final line whose newline never made it to disk', async () => {
      store = await EmbeddedStore.open(dir);
      await store.write([{ op: 'set', key: 'a', value: '1' }]);
      await store.close();
      fs.appendFileSync(journal(), '{"ops":[{"op":"set","key":"unacked","value":"1"}]}');

      store = await EmbeddedStore.open(dir);
      expect(await store.get('unacked')).to.equal(null);
      expect(await store.get('a')).to.equal('1');
    });

    it('refuses to open a journal corrupted before its last line, and releases the lock', async () => {
      store = await EmbeddedStore.open(dir);
      await store.write([{ op: 'set', key: 'a', value: '1' }]);
      await store.close();
      store = undefined;
      const good = fs.readFileSync(journal(), 'utf8');
      fs.writeFileSync(journal(), `${good}garbage\n${good}`);

      const err = await expectRejects(EmbeddedStore.open(dir));
      expect(err.message).to.contain('line 2');
      expect(fs.existsSync(path.join(dir, 'LOCK'))).to.equal(false);
    });
  });

  describe('compaction', () => {
    async function populate(): Promise<void> {
      store = await EmbeddedStore.open(dir);
      for (let i = 0; i < 20; i++) {
        await store.write([
          { op: 'set', key: `s:${i}`, value: String(i) },
          { op: 'sadd', key: 'all', members: [String(i)] },
          { op: 'hset', key: 'h', fields: { [`f${i}`]: String(i) } },
        ]);
      }
      await store.write([
        { op: 'del', key: 's:0' },
        { op: 'srem', key: 'all', members: ['0'] },
        { op: 'hdel', key: 'h', fields: ['f0'] },
      ]);
      await store.close();
    }

    async function expectPopulated(s: EmbeddedStore): Promise<void> {
      expect(await s.keys('s:')).to.have.length(19);
      expect(await s.get('s:0')).to.equal(null);
      expect(await s.get('s:7')).to.equal('7');
      expect(await s.smembers('all')).to.have.length(19);
      expect(await s.hget('h', 'f19')).to.equal('19');
      expect(await s.hget('h', 'f0')).to.equal(null);
    }

    it('does not compact a small journal', async () => {
      await populate();
      store = await EmbeddedStore.open(dir);
      expect(fs.existsSync(path.join(dir, 'snapshot.json'))).to.equal(false);
      expect(fs.statSync(journal()).size).to.be.greaterThan(0);
    });

    it('rewrites a large journal into a snapshot on open', async () => {
      await populate();
      store = await EmbeddedStore.open(dir, { compactBytes: 100 });
      expect(fs.existsSync(path.join(dir, 'snapshot.json'))).to.equal(true);
      expect(fs.existsSync(journal(0))).to.equal(false);
      expect(fs.statSync(journal(1)).size).to.equal(0);
      await expectPopulated(store);

      await store.write([{ op: 'set', key: 'post', value: 'compaction' }]);
      await store.close();
      store = await EmbeddedStore.open(dir);
      await expectPopulated(store);
      expect(await store.get('post')).to.equal('compaction');
    });

    it('recovers from a crash between writing the snapshot and removing the old journal', async () => {
      await populate();
      const oldJournal = fs.readFileSync(journal(0));
      store = await EmbeddedStore.open(dir, { compactBytes: 100 });
      await store.close();
      // State left by a crash right after the snapshot rename.
      fs.writeFileSync(journal(0), oldJournal);
      fs.rmSync(journal(1));
      fs.writeFileSync(path.join(dir, 'snapshot.json.tmp'), '{"partial');

      store = await EmbeddedStore.open(dir);
      await expectPopulated(store);
      expect(fs.readdirSync(dir).sort()).to.deep.equal(['LOCK', 'journal-1.log', 'snapshot.json']);
    });
  });

  describe('lock', () => {
    it('refuses a second open of the same directory in this process', async () => {
      store = await EmbeddedStore.open(dir);
      const err = await expectRejects(EmbeddedStore.open(path.join(dir, '.')));
      expect(err.message).to.contain('already open');
    });

    it('refuses a directory locked by a live process, and takes over once it is dead', async () => {
      const holder = spawn('sleep', ['30']);
      try {
        fs.writeFileSync(path.join(dir, 'LOCK'), `${holder.pid}\n`);
        const err = await expectRejects(EmbeddedStore.open(dir));
        expect(err.message).to.contain(String(holder.pid));
      } finally {
        holder.kill('SIGKILL');
        await new Promise((resolve) => holder.once('exit', resolve));
      }
      store = await EmbeddedStore.open(dir);
      expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8').trim()).to.equal(String(process.pid));
    });

    it('takes over a lock carrying its own pid (e.g. pid 1 after a container restart)', async () => {
      fs.writeFileSync(path.join(dir, 'LOCK'), `${process.pid}\n`);
      store = await EmbeddedStore.open(dir);
    });

    it('is released on close', async () => {
      store = await EmbeddedStore.open(dir);
      await store.close();
      expect(fs.existsSync(path.join(dir, 'LOCK'))).to.equal(false);
      store = await EmbeddedStore.open(dir);
    });
  });
});

describe('openStore', () => {
  it('opens an EmbeddedStore at store.dir for the memory backend', async () => {
    const dir = tempDir();
    try {
      const store = await openStore(parseConfig(`[store]\nbackend = memory\ndir = ${dir}\n`));
      expect(store).to.be.instanceOf(EmbeddedStore);
      await store.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  // Opening a RedisStore against a live server is tested in store-redis.test.ts.
  it('fails fast, naming the URL, for the redis backend when Redis is unreachable', async () => {
    const err = await expectRejects(openStore(parseConfig('[store]\nbackend = redis\nredis_url = redis://127.0.0.1:1\n')));
    expect(err.message).to.contain('cannot connect to Redis at redis://127.0.0.1:1');
  });
});
