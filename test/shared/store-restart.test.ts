import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Users } from '../../shared/model/users';
import { EmbeddedStore, RedisStore } from '../../shared/store';
import type { Store } from '../../shared/store/store';
import { RedisServer, startRedisOrSkip } from '../support/redis';

/**
 * Every write the model layer saw acknowledged is still there after the store's
 * storage restarts: the embedded directory closed and reopened, or the
 * redis-server process itself stopped (cleanly or by SIGKILL) and started again.
 */
interface Backend {
  open(): Promise<Store>;
  /** Called with the store open; returns the store to use afterwards. */
  restart(store: Store): Promise<Store>;
}

const DOMAIN = 'wac.local';
const COUNT = 5;

function restartSuite(name: string, setup: (ctx: Mocha.Context) => Promise<Backend>, teardown: () => Promise<void>) {
  describe(`store restart: ${name}`, function () {
    let backend: Backend;
    let store: Store | undefined;

    before(async function () {
      backend = await setup(this);
    });

    after(async () => {
      await store?.close();
      store = undefined;
      await teardown();
    });

    it('keeps every user, credential and password change acknowledged before the restart', async () => {
      store = await backend.open();
      const users = new Users(store);
      const created: { id: string; username: string; password: string; ha1: string | null }[] = [];
      for (let i = 0; i < COUNT; i++) {
        const username = `user${i}`;
        const user = await users.create({ domain: DOMAIN, username, password: `first-${i}`, email: `${username}@x.org` });
        created.push({ id: user.id, username, password: `first-${i}`, ha1: null });
      }
      // The last acknowledged writes before the restart are password changes.
      for (const entry of created.filter((_, i) => i % 2 === 0)) {
        entry.password = `second-${entry.username}`;
        await users.setPassword(entry.id, entry.password);
      }
      for (const entry of created) entry.ha1 = await users.digestHa1(DOMAIN, entry.username);
      const before = await Promise.all(created.map((c) => users.get(c.id)));

      store = await backend.restart(store);
      const after = new Users(store);

      for (const [i, entry] of created.entries()) {
        const found = await after.findByName(DOMAIN, entry.username);
        expect(found, entry.username).to.deep.equal(before[i]);
        expect(await after.digestHa1(DOMAIN, entry.username), entry.username).to.equal(entry.ha1).and.to.be.a('string');
        expect(await after.verifyPassword(entry.id, entry.password), entry.username).to.equal(true);
        if (entry.password.startsWith('second-')) {
          expect(await after.verifyPassword(entry.id, `first-${i}`)).to.equal(false);
        }
      }
      expect(await store.keys('')).to.have.length.greaterThan(0);
    });
  });
}

let dir: string | undefined;
restartSuite(
  'embedded (close + reopen the directory)',
  async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-restart-'));
    return {
      open: () => EmbeddedStore.open(dir!),
      restart: async (store) => {
        await store.close();
        return EmbeddedStore.open(dir!);
      },
    };
  },
  async () => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  },
);

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  let server: RedisServer | undefined;
  restartSuite(
    `redis (redis-server restarted after ${signal})`,
    async (ctx) => {
      server = await startRedisOrSkip(ctx);
      const s = server;
      return {
        open: () => RedisStore.open(s.url),
        // The server goes away under an open client, as in production; a fresh
        // client afterwards shows the data comes from the restarted server.
        restart: async (store) => {
          const oldPid = s.pid;
          await s.restart(signal);
          expect(s.pid).not.to.equal(oldPid);
          await store.close();
          return RedisStore.open(s.url);
        },
      };
    },
    async () => {
      await server?.stop();
    },
  );
}
