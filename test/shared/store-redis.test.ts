import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import Redis from 'ioredis';
import { parseConfig } from '../../shared/config';
import { EmbeddedStore, openStore, RedisStore, WrongTypeError } from '../../shared/store';
import type { Store } from '../../shared/store/store';
import { escapeGlob } from '../../shared/store/redis';
import { RedisServer, startRedisOrSkip } from '../support/redis';
import { expectRejects, StoreHarness, storeContract } from './store-contract';

describe('RedisStore', function () {
  let server: RedisServer | undefined;
  let admin: Redis | undefined;

  before(async function () {
    server = await startRedisOrSkip(this);
    admin = new Redis(server.url, { lazyConnect: true });
    await admin.connect();
  });

  after(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  // One database of the suite's server; each harness starts it empty, and
  // reopening connects again to the same database, so it sees the same data.
  async function harness(): Promise<StoreHarness> {
    await admin!.flushdb();
    return {
      open: () => RedisStore.open(server!.url),
      cleanup: async () => {
        await admin!.flushdb();
      },
    };
  }

  storeContract('redis', harness);

  describe('write batches beyond the contract (same result as EmbeddedStore)', () => {
    const backends: [string, () => Promise<StoreHarness>][] = [
      ['redis', harness],
      [
        'embedded',
        async () => {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-store-'));
          return {
            open: () => EmbeddedStore.open(dir),
            cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
          };
        },
      ],
    ];

    for (const [name, factory] of backends) {
      describe(name, () => {
        let h: StoreHarness;
        let store: Store;
        beforeEach(async () => {
          h = await factory();
          store = await h.open();
        });
        afterEach(async () => {
          await store.close();
          await h.cleanup();
        });

        it('a hash emptied earlier in the batch may become a set', async () => {
          await store.write([{ op: 'hset', key: 'k', fields: { f: '1' } }]);
          expect(
            await store.write([
              { op: 'hdel', key: 'k', fields: ['f'] },
              { op: 'sadd', key: 'k', members: ['m'] },
            ]),
          ).to.equal(true);
          expect(await store.smembers('k')).to.deep.equal(['m']);
        });

        it('a hash that keeps a field may not, and the batch writes nothing', async () => {
          await store.write([{ op: 'hset', key: 'k', fields: { f: '1', g: '2' } }]);
          const err = await expectRejects(
            store.write([
              { op: 'set', key: 'other', value: 'x' },
              { op: 'hdel', key: 'k', fields: ['f'] },
              { op: 'sadd', key: 'k', members: ['m'] },
            ]),
          );
          expect(err).to.be.instanceOf(WrongTypeError);
          expect(err.message).to.contain('"k"');
          expect(await store.hgetall('k')).to.deep.equal({ f: '1', g: '2' });
          expect(await store.get('other')).to.equal(null);
        });

        it('types follow set and del within the batch', async () => {
          await store.write([{ op: 'sadd', key: 'k', members: ['m'] }]);
          expect(
            await store.write([
              { op: 'set', key: 'k', value: 'v' },
              { op: 'del', key: 'k' },
              { op: 'hset', key: 'k', fields: { f: '1' } },
            ]),
          ).to.equal(true);
          expect(await store.hgetall('k')).to.deep.equal({ f: '1' });
          await expectRejects(
            store.write([
              { op: 'set', key: 'k', value: 'v' },
              { op: 'srem', key: 'k', members: ['m'] },
            ]),
          );
          expect(await store.hgetall('k')).to.deep.equal({ f: '1' });
        });

        it('members added in the batch count when removing', async () => {
          expect(
            await store.write([
              { op: 'sadd', key: 'k', members: ['a'] },
              { op: 'sadd', key: 'k', members: ['b'] },
              { op: 'srem', key: 'k', members: ['a'] },
            ]),
          ).to.equal(true);
          expect(await store.smembers('k')).to.deep.equal(['b']);
          // 'k' still holds b, so a hash may not take its place...
          await expectRejects(
            store.write([
              { op: 'srem', key: 'k', members: ['a'] },
              { op: 'hset', key: 'k', fields: { f: '1' } },
            ]),
          );
          // ...until b, added by an earlier batch, is removed too.
          expect(
            await store.write([
              { op: 'sadd', key: 'k', members: ['c'] },
              { op: 'srem', key: 'k', members: ['b', 'c'] },
              { op: 'set', key: 'x', value: '1' },
              { op: 'hset', key: 'k', fields: { f: '1' } },
            ]),
          ).to.equal(true);
          expect(await store.hgetall('k')).to.deep.equal({ f: '1' });
          expect(await store.get('x')).to.equal('1');
        });

        it('empty field and member lists are no-ops, even on a key of another type', async () => {
          await store.write([{ op: 'set', key: 's', value: '1' }]);
          expect(
            await store.write([
              { op: 'hset', key: 's', fields: {} },
              { op: 'hdel', key: 's', fields: [] },
              { op: 'sadd', key: 's', members: [] },
              { op: 'srem', key: 's', members: [] },
              { op: 'hset', key: 'none', fields: {} },
            ]),
          ).to.equal(true);
          expect(await store.keys('')).to.deep.equal(['s']);
        });

        it('hdel/srem on a missing key change nothing', async () => {
          expect(
            await store.write([
              { op: 'hdel', key: 'h', fields: ['f'] },
              { op: 'srem', key: 'z', members: ['m'] },
            ]),
          ).to.equal(true);
          expect(await store.keys('')).to.deep.equal([]);
        });

        it('large batches and many keys', async () => {
          const members = Array.from({ length: 2500 }, (_, i) => `m${i}`);
          const fields = Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`f${i}`, `v${i}`]));
          await store.write([
            { op: 'sadd', key: 'big:set', members },
            { op: 'hset', key: 'big:hash', fields },
            ...Array.from({ length: 1200 }, (_, i) => ({ op: 'set' as const, key: `many:${i}`, value: String(i) })),
          ]);
          expect(await store.smembers('big:set')).to.have.length(2500);
          expect(await store.hgetall('big:hash')).to.deep.equal(fields);
          expect(await store.keys('many:')).to.have.length(1200);
          await store.write([{ op: 'srem', key: 'big:set', members: members.slice(1) }]);
          expect(await store.smembers('big:set')).to.deep.equal(['m0']);
        });

        it('keys, values and fields with unusual characters', async () => {
          const odd = 'ключ \\ * ? [x] "q" \u0000 \u{1F600}';
          await store.write([
            { op: 'set', key: odd, value: odd },
            { op: 'hset', key: `h${odd}`, fields: { [odd]: odd, '1': 'numeric-looking', constructor: 'c' } },
            { op: 'sadd', key: `z${odd}`, members: [odd, '2'] },
          ]);
          expect(await store.get(odd)).to.equal(odd);
          expect(await store.hgetall(`h${odd}`)).to.deep.equal({ [odd]: odd, '1': 'numeric-looking', constructor: 'c' });
          expect((await store.smembers(`z${odd}`)).sort()).to.deep.equal(['2', odd].sort());
          expect(await store.keys('ключ \\ *')).to.deep.equal([odd]);
        });

        it('reads of another type reject with WrongTypeError', async () => {
          await store.write([{ op: 'set', key: 's', value: '1' }]);
          expect(await expectRejects(store.hget('s', 'f'))).to.be.instanceOf(WrongTypeError);
          expect(await expectRejects(store.smembers('s'))).to.be.instanceOf(WrongTypeError);
        });
      });
    }
  });

  describe('Redis specifics', () => {
    let h: StoreHarness;
    let store: RedisStore;
    beforeEach(async () => {
      h = await harness();
      store = (await h.open()) as RedisStore;
    });
    afterEach(async () => {
      await store.close();
      await h.cleanup();
    });

    it('escapes glob characters for SCAN MATCH', () => {
      expect(escapeGlob('a*b?c[d]e\\f')).to.equal('a\\*b\\?c\\[d\\]e\\\\f');
    });

    it('fails fast, naming the URL, when Redis is unreachable', async () => {
      const port = await new Promise<number>((resolve) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as net.AddressInfo).port;
          s.close(() => resolve(p));
        });
      });
      const url = `redis://127.0.0.1:${port}`;
      const started = Date.now();
      const err = await expectRejects(RedisStore.open(url));
      expect(err.message).to.contain(url);
      expect(Date.now() - started).to.be.lessThan(3000);
    });

    it('hides a password in the connection error', async () => {
      const err = await expectRejects(RedisStore.open('redis://:s3cret@127.0.0.1:1'));
      expect(err.message).not.to.contain('s3cret');
      expect(err.message).to.contain('127.0.0.1:1');
    });

    it('keeps working across a restart of redis-server', async () => {
      await store.write([{ op: 'set', key: 'before', value: '1' }]);
      await server!.restart();
      expect(await store.get('before')).to.equal('1');
      expect(await store.write([{ op: 'set', key: 'after', value: '2' }], { absent: ['after'] })).to.equal(true);
      expect(await store.mget(['before', 'after'])).to.deep.equal(['1', '2']);
      await admin!.ping();
    });

    it('openStore opens a RedisStore at store.redis_url', async () => {
      const opened = await openStore(parseConfig(`[store]\nbackend = redis\nredis_url = ${server!.url}\n`));
      try {
        expect(opened).to.be.instanceOf(RedisStore);
        await opened.write([{ op: 'set', key: 'k', value: 'v' }]);
        expect(await store.get('k')).to.equal('v');
      } finally {
        await opened.close();
      }
    });
  });
});
