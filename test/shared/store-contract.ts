import { expect } from 'chai';
import type { Store } from '../../shared/store/store';

/**
 * One backing store (a directory, a Redis database, ...) that can be opened
 * repeatedly, so persistence is tested by closing and reopening it.
 */
export interface StoreHarness {
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

export type StoreFactory = () => Promise<StoreHarness>;

export function storeContract(name: string, factory: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    let harness: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      harness = await factory();
      store = await harness.open();
    });

    afterEach(async () => {
      await store.close();
      await harness.cleanup();
    });

    async function reopen(): Promise<void> {
      await store.close();
      store = await harness.open();
    }

    describe('strings', () => {
      it('set/get and missing keys', async () => {
        expect(await store.get('a')).to.equal(null);
        expect(await store.write([{ op: 'set', key: 'a', value: '1' }])).to.equal(true);
        expect(await store.get('a')).to.equal('1');
        await store.write([{ op: 'set', key: 'a', value: '' }]);
        expect(await store.get('a')).to.equal('');
      });

      it('mget keeps order and yields null for missing and non-string keys', async () => {
        await store.write([
          { op: 'set', key: 'a', value: 'A' },
          { op: 'set', key: 'c', value: 'C' },
          { op: 'hset', key: 'h', fields: { f: 'v' } },
        ]);
        expect(await store.mget(['c', 'b', 'a', 'h'])).to.deep.equal(['C', null, 'A', null]);
        expect(await store.mget([])).to.deep.equal([]);
      });

      it('del removes a key of any type', async () => {
        await store.write([
          { op: 'set', key: 's', value: '1' },
          { op: 'hset', key: 'h', fields: { f: 'v' } },
          { op: 'sadd', key: 'z', members: ['m'] },
        ]);
        await store.write([
          { op: 'del', key: 's' },
          { op: 'del', key: 'h' },
          { op: 'del', key: 'z' },
          { op: 'del', key: 'never' },
        ]);
        expect(await store.keys('')).to.deep.equal([]);
      });

      it('set replaces a key of another type', async () => {
        await store.write([{ op: 'hset', key: 'k', fields: { f: 'v' } }]);
        await store.write([{ op: 'set', key: 'k', value: 'now a string' }]);
        expect(await store.get('k')).to.equal('now a string');
      });
    });

    describe('incr', () => {
      it('starts from 0 and counts up', async () => {
        expect(await store.incr('n')).to.equal(1);
        expect(await store.incr('n')).to.equal(2);
        expect(await store.get('n')).to.equal('2');
      });

      it('continues from an integer string', async () => {
        await store.write([{ op: 'set', key: 'n', value: '41' }]);
        expect(await store.incr('n')).to.equal(42);
      });

      it('is atomic under concurrency', async () => {
        const results = await Promise.all(Array.from({ length: 50 }, () => store.incr('n')));
        expect([...results].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
      });

      it('rejects a non-integer value', async () => {
        await store.write([{ op: 'set', key: 'n', value: 'abc' }]);
        await expectRejects(store.incr('n'));
        expect(await store.get('n')).to.equal('abc');
      });

      it('rejects a key of another type', async () => {
        await store.write([{ op: 'sadd', key: 'n', members: ['x'] }]);
        await expectRejects(store.incr('n'));
      });
    });

    describe('hashes', () => {
      it('hset/hget/hgetall/hdel', async () => {
        expect(await store.hgetall('h')).to.deep.equal({});
        expect(await store.hget('h', 'f')).to.equal(null);
        await store.write([{ op: 'hset', key: 'h', fields: { a: '1', b: '2' } }]);
        await store.write([{ op: 'hset', key: 'h', fields: { b: '3', c: '4' } }]);
        expect(await store.hgetall('h')).to.deep.equal({ a: '1', b: '3', c: '4' });
        expect(await store.hget('h', 'b')).to.equal('3');
        expect(await store.hget('h', 'zz')).to.equal(null);
        await store.write([{ op: 'hdel', key: 'h', fields: ['a', 'missing'] }]);
        expect(await store.hgetall('h')).to.deep.equal({ b: '3', c: '4' });
      });

      it('a hash whose last field is removed no longer exists', async () => {
        await store.write([{ op: 'hset', key: 'h', fields: { a: '1' } }]);
        await store.write([{ op: 'hdel', key: 'h', fields: ['a'] }]);
        expect(await store.keys('h')).to.deep.equal([]);
        expect(await store.write([], { absent: ['h'] })).to.equal(true);
      });

      it('returns a copy that callers cannot use to mutate the store', async () => {
        await store.write([{ op: 'hset', key: 'h', fields: { a: '1' } }]);
        const all = await store.hgetall('h');
        all.a = 'changed';
        expect(await store.hget('h', 'a')).to.equal('1');
      });
    });

    describe('sets', () => {
      it('sadd/smembers/sismember/srem', async () => {
        expect(await store.smembers('z')).to.deep.equal([]);
        expect(await store.sismember('z', 'a')).to.equal(false);
        await store.write([{ op: 'sadd', key: 'z', members: ['a', 'b', 'a'] }]);
        await store.write([{ op: 'sadd', key: 'z', members: ['c'] }]);
        expect((await store.smembers('z')).sort()).to.deep.equal(['a', 'b', 'c']);
        expect(await store.sismember('z', 'b')).to.equal(true);
        await store.write([{ op: 'srem', key: 'z', members: ['b', 'missing'] }]);
        expect((await store.smembers('z')).sort()).to.deep.equal(['a', 'c']);
        expect(await store.sismember('z', 'b')).to.equal(false);
      });

      it('a set whose last member is removed no longer exists', async () => {
        await store.write([{ op: 'sadd', key: 'z', members: ['a'] }]);
        await store.write([{ op: 'srem', key: 'z', members: ['a'] }]);
        expect(await store.keys('z')).to.deep.equal([]);
      });
    });

    describe('keys', () => {
      it('lists keys with a prefix, of every type', async () => {
        await store.write([
          { op: 'set', key: 'user:1', value: 'x' },
          { op: 'hset', key: 'user:2', fields: { f: 'v' } },
          { op: 'sadd', key: 'user:3', members: ['m'] },
          { op: 'set', key: 'users', value: 'x' },
          { op: 'set', key: 'other:1', value: 'x' },
        ]);
        expect((await store.keys('user:')).sort()).to.deep.equal(['user:1', 'user:2', 'user:3']);
        expect((await store.keys('')).sort()).to.deep.equal(['other:1', 'user:1', 'user:2', 'user:3', 'users']);
        expect(await store.keys('nope')).to.deep.equal([]);
      });

      it('treats glob characters in the prefix literally', async () => {
        await store.write([
          { op: 'set', key: 'a*b', value: '1' },
          { op: 'set', key: 'axb', value: '1' },
          { op: 'set', key: 'a?[c]', value: '1' },
        ]);
        expect(await store.keys('a*')).to.deep.equal(['a*b']);
        expect(await store.keys('a?[')).to.deep.equal(['a?[c]']);
      });
    });

    describe('wrong types', () => {
      beforeEach(async () => {
        await store.write([
          { op: 'set', key: 's', value: '1' },
          { op: 'hset', key: 'h', fields: { f: 'v' } },
          { op: 'sadd', key: 'z', members: ['m'] },
        ]);
      });

      it('reads through a primitive of another type reject', async () => {
        await expectRejects(store.get('h'));
        await expectRejects(store.hgetall('s'));
        await expectRejects(store.hget('z', 'f'));
        await expectRejects(store.smembers('h'));
        await expectRejects(store.sismember('s', 'm'));
      });

      it('a batch with a wrong-type op rejects and writes nothing', async () => {
        await expectRejects(
          store.write([
            { op: 'set', key: 'new', value: '1' },
            { op: 'hset', key: 'h', fields: { f: 'changed' } },
            { op: 'sadd', key: 's', members: ['m'] },
          ]),
        );
        expect(await store.get('new')).to.equal(null);
        expect(await store.hget('h', 'f')).to.equal('v');
        expect(await store.get('s')).to.equal('1');
      });

      it('a failing batch also takes back emptied hashes and sets, removed members and deleted keys', async () => {
        await store.write([{ op: 'sadd', key: 'big', members: ['a', 'b'] }]);
        await expectRejects(
          store.write([
            { op: 'hdel', key: 'h', fields: ['f'] },
            { op: 'srem', key: 'z', members: ['m'] },
            { op: 'sadd', key: 'big', members: ['b', 'c'] },
            { op: 'srem', key: 'big', members: ['a'] },
            { op: 'del', key: 's' },
            { op: 'hset', key: 'big', fields: { f: 'v' } },
          ]),
        );
        expect(await store.hgetall('h')).to.deep.equal({ f: 'v' });
        expect(await store.smembers('z')).to.deep.equal(['m']);
        expect((await store.smembers('big')).sort()).to.deep.equal(['a', 'b']);
        expect(await store.get('s')).to.equal('1');
      });
    });

    describe('write batches', () => {
      it('applies ops in order', async () => {
        await store.write([
          { op: 'set', key: 'k', value: '1' },
          { op: 'del', key: 'k' },
          { op: 'hset', key: 'k', fields: { f: '1' } },
          { op: 'hdel', key: 'k', fields: ['f'] },
          { op: 'sadd', key: 'k', members: ['m'] },
        ]);
        expect(await store.smembers('k')).to.deep.equal(['m']);
      });

      it('an empty batch succeeds', async () => {
        expect(await store.write([])).to.equal(true);
      });
    });

    describe('guards', () => {
      beforeEach(async () => {
        await store.write([
          { op: 'set', key: 'exists', value: '1' },
          { op: 'hset', key: 'hash', fields: { f: 'v' } },
          { op: 'sadd', key: 'set', members: ['m'] },
        ]);
      });

      it('absent: writes when no listed key exists', async () => {
        expect(await store.write([{ op: 'set', key: 'a', value: '1' }], { absent: ['a', 'b'] })).to.equal(true);
        expect(await store.get('a')).to.equal('1');
      });

      it('absent: refuses when any listed key exists, of any type', async () => {
        for (const taken of ['exists', 'hash', 'set']) {
          const ok = await store.write(
            [
              { op: 'set', key: 'a', value: '1' },
              { op: 'hset', key: 'hash', fields: { f: 'changed' } },
              { op: 'del', key: 'exists' },
            ],
            { absent: ['b', taken] },
          );
          expect(ok, taken).to.equal(false);
        }
        expect(await store.get('a')).to.equal(null);
        expect(await store.get('exists')).to.equal('1');
        expect(await store.hget('hash', 'f')).to.equal('v');
      });

      it('present: writes only when every listed key exists', async () => {
        const ops = [{ op: 'sadd', key: 'set', members: ['n'] }] as const;
        expect(await store.write([...ops], { present: ['exists', 'missing'] })).to.equal(false);
        expect(await store.smembers('set')).to.deep.equal(['m']);
        expect(await store.write([...ops], { present: ['exists', 'hash', 'set'] })).to.equal(true);
        expect((await store.smembers('set')).sort()).to.deep.equal(['m', 'n']);
      });

      it('absent and present combine', async () => {
        const op = { op: 'set', key: 'a', value: '1' } as const;
        expect(await store.write([op], { absent: ['exists'], present: ['hash'] })).to.equal(false);
        expect(await store.write([op], { absent: ['a'], present: ['missing'] })).to.equal(false);
        expect(await store.get('a')).to.equal(null);
        expect(await store.write([op], { absent: ['a'], present: ['hash'] })).to.equal(true);
      });

      it('a guard refers to the state before the batch', async () => {
        expect(await store.write([{ op: 'set', key: 'a', value: '1' }], { absent: ['a'] })).to.equal(true);
        expect(await store.write([{ op: 'set', key: 'a', value: '2' }], { absent: ['a'] })).to.equal(false);
        expect(await store.get('a')).to.equal('1');
      });

      it('concurrent claims on one key: exactly one wins', async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.write(
              [
                { op: 'set', key: 'claim', value: String(i) },
                { op: 'sadd', key: 'winners', members: [String(i)] },
              ],
              { absent: ['claim'] },
            ),
          ),
        );
        expect(results.filter(Boolean)).to.have.length(1);
        const winner = results.indexOf(true);
        expect(await store.get('claim')).to.equal(String(winner));
        expect(await store.smembers('winners')).to.deep.equal([String(winner)]);
      });
    });

    describe('append-only logs', () => {
      it('appends in order and reads everything back, oldest first', async () => {
        expect(await store.readLog('calls')).to.deep.equal([]);
        await store.append('calls', ['{"n":1}', '', 'ünïcode ✓']);
        await store.append('calls', []);
        await store.append('calls', ['{"n":2}']);
        await store.append('other', ['x']);
        expect(await store.readLog('calls')).to.deep.equal(['{"n":1}', '', 'ünïcode ✓', '{"n":2}']);
        expect(await store.readLog('other')).to.deep.equal(['x']);
      });

      it('a read gets what was appended before it, whatever is appended while it runs', async () => {
        const reads: Promise<string[]>[] = [];
        for (let i = 0; i < 20; i++) {
          reads.push(store.readLog('c'));
          await store.append('c', [`${i}a`, `${i}b`]);
        }
        const got = await Promise.all(reads);
        got.forEach((lines, i) => expect(lines).to.have.length(2 * i));
        expect(await store.readLog('c')).to.have.length(40);
      });

      it('rejects an entry with CR or LF and a bad log name, writing nothing', async () => {
        await store.append('calls', ['first']);
        for (const bad of ['two\nlines', 'cr\r']) await expectRejects(store.append('calls', ['ok', bad]));
        for (const name of ['', '../x', 'A', 'a/b', 'a b']) {
          await expectRejects(store.append(name, ['x']));
          await expectRejects(store.readLog(name));
        }
        expect(await store.readLog('calls')).to.deep.equal(['first']);
      });

      it('is durable across close/reopen', async () => {
        await store.append('calls', ['a', 'b']);
        await store.write([{ op: 'set', key: 'k', value: '1' }]);
        await reopen();
        await store.append('calls', ['c']);
        expect(await store.readLog('calls')).to.deep.equal(['a', 'b', 'c']);
        expect(await store.get('calls')).to.equal(null);
        expect(await store.keys('k')).to.deep.equal(['k']);
      });
    });

    describe('persistence', () => {
      it('keeps every type, deletions and counters across close/reopen', async () => {
        await store.write([
          { op: 'set', key: 's', value: 'string "with" quotes\nand newline' },
          { op: 'hset', key: 'h', fields: { a: '1', b: '2', ['__proto__']: 'p' } },
          { op: 'sadd', key: 'z', members: ['x', 'y'] },
          { op: 'set', key: 'gone', value: '1' },
        ]);
        await store.write([
          { op: 'del', key: 'gone' },
          { op: 'hdel', key: 'h', fields: ['b'] },
          { op: 'srem', key: 'z', members: ['y'] },
        ]);
        await store.incr('n');
        await store.incr('n');
        expect(await store.write([{ op: 'set', key: 'refused', value: '1' }], { absent: ['s'] })).to.equal(false);

        await reopen();

        expect(await store.get('s')).to.equal('string "with" quotes\nand newline');
        expect(await store.hgetall('h')).to.deep.equal({ a: '1', ['__proto__']: 'p' });
        expect(await store.smembers('z')).to.deep.equal(['x']);
        expect(await store.get('gone')).to.equal(null);
        expect(await store.get('refused')).to.equal(null);
        expect(await store.incr('n')).to.equal(3);
        expect((await store.keys('')).sort()).to.deep.equal(['h', 'n', 's', 'z']);
      });

      it('survives several reopen cycles', async () => {
        for (let i = 1; i <= 3; i++) {
          await store.write([{ op: 'sadd', key: 'z', members: [String(i)] }]);
          await reopen();
        }
        expect((await store.smembers('z')).sort()).to.deep.equal(['1', '2', '3']);
      });
    });

    it('rejects use after close', async () => {
      await store.close();
      await expectRejects(store.get('a'));
      await expectRejects(store.write([{ op: 'set', key: 'a', value: '1' }]));
      await expectRejects(store.append('calls', ['x']));
      await expectRejects(store.readLog('calls'));
      store = await harness.open();
    });
  });
}

export async function expectRejects(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(Error);
    return err as Error;
  }
  expect.fail('expected the promise to reject');
}
