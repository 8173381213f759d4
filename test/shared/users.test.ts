import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ModelError, Users } from '../../shared/model/users';
import { EmbeddedStore } from '../../shared/store/embedded';
import { keys } from '../../shared/store/keys';
import type { Store } from '../../shared/store/store';
import { expectRejects } from './store-contract';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('Users', () => {
  let dir: string;
  let store: Store;
  let users: Users;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-users-'));
    store = await EmbeddedStore.open(dir);
    users = new Users(store);
  });

  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function expectModelError(promise: Promise<unknown>, code: string): Promise<void> {
    const err = await expectRejects(promise);
    expect(err).to.be.instanceOf(ModelError);
    expect((err as ModelError).code).to.equal(code);
  }

  describe('create', () => {
    it('returns the user with defaults and stores it', async () => {
      const user = await users.create({ domain: 'wac.local', username: 'alice' });
      expect(user.id).to.match(/^[0-9a-f-]{36}$/);
      expect(user).to.include({ domain: 'wac.local', username: 'alice', role: 'user' });
      expect(user).not.to.have.property('email');
      expect(new Date(user.createdAt).toISOString()).to.equal(user.createdAt);
      expect(await users.get(user.id)).to.deep.equal(user);
    });

    it('keeps role and email', async () => {
      const user = await users.create({ domain: 'wac.local', username: 'root', role: 'admin', email: 'r@example.org' });
      expect(await users.get(user.id)).to.deep.equal({ ...user, role: 'admin', email: 'r@example.org' });
    });

    it('rejects a duplicate username in the same domain with code conflict', async () => {
      const first = await users.create({ domain: 'wac.local', username: 'alice', password: 'one' });
      await expectModelError(users.create({ domain: 'wac.local', username: 'alice', password: 'two' }), 'conflict');
      expect((await users.findByName('wac.local', 'alice'))?.id).to.equal(first.id);
      expect(await users.verifyPassword(first.id, 'one')).to.equal(true);
      expect(await store.keys('user:')).to.have.length(1);
    });

    it('lets only one of several concurrent creations of a name win', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => users.create({ domain: 'wac.local', username: 'race', password: 'pw' })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).to.have.property('code', 'conflict');
      }
      expect(await store.keys('user:')).to.have.length(1);
      expect(await store.keys('cred:basic:')).to.have.length(1);
    });

    it('allows the same username in another domain, and names differing in case', async () => {
      const a = await users.create({ domain: 'a.example', username: 'alice' });
      const b = await users.create({ domain: 'b.example', username: 'alice' });
      const c = await users.create({ domain: 'a.example', username: 'Alice' });
      expect(new Set([a.id, b.id, c.id]).size).to.equal(3);
    });

    it('rejects invalid input with code invalid', async () => {
      await expectModelError(users.create({ domain: 'wac.local', username: '' }), 'invalid');
      await expectModelError(users.create({ domain: 'wac.local', username: 'a:b' }), 'invalid');
      await expectModelError(users.create({ domain: 'wac.local', username: 'a b' }), 'invalid');
      await expectModelError(users.create({ domain: 'bad:domain', username: 'a' }), 'invalid');
      await expectModelError(users.create({ domain: 'wac.local', username: 'a', password: '' }), 'invalid');
      await expectModelError(
        users.create({ domain: 'wac.local', username: 'a', role: 'root' as unknown as 'user' }),
        'invalid',
      );
      expect(await store.keys('')).to.deep.equal([]);
    });
  });

  describe('lookup', () => {
    it('get returns null for an unknown id', async () => {
      expect(await users.get('00000000-0000-0000-0000-000000000000')).to.equal(null);
    });

    it('findByName is exact and case-sensitive', async () => {
      const user = await users.create({ domain: 'wac.local', username: 'Bob' });
      expect(await users.findByName('wac.local', 'Bob')).to.deep.equal(user);
      expect(await users.findByName('wac.local', 'bob')).to.equal(null);
      expect(await users.findByName('other.local', 'Bob')).to.equal(null);
    });

    it('survives a store restart', async () => {
      const user = await users.create({ domain: 'wac.local', username: 'carol', password: 'pw' });
      await store.close();
      store = await EmbeddedStore.open(dir);
      users = new Users(store);
      expect(await users.findByName('wac.local', 'carol')).to.deep.equal(user);
      expect(await users.verifyPassword(user.id, 'pw')).to.equal(true);
    });
  });

  describe('credentials', () => {
    it('stores HA1 for realm = domain and a scrypt hash, never the password', async () => {
      const user = await users.create({ domain: 'wac.local', username: 'alice', password: 's3cret!' });
      expect(await users.digestHa1('wac.local', 'alice')).to.equal(md5('alice:wac.local:s3cret!'));
      const cred = await store.hgetall(keys.basicCredential(user.id));
      expect(Object.keys(cred).sort()).to.deep.equal(['credentialId', 'ha1', 'hash']);
      // The password is a real basic credential, listed like any other and holding no secret.
      const doc = JSON.parse((await store.get(keys.credential(cred.credentialId)))!);
      expect(doc).to.include({ type: 'basic', user: user.id });
      expect(JSON.stringify(doc)).not.to.contain('s3cret!');
      expect(cred.hash).to.match(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
      const journal = fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('');
      expect(journal).not.to.contain('s3cret!');
    });

    it('salts each hash', async () => {
      const a = await users.create({ domain: 'wac.local', username: 'a', password: 'same' });
      const b = await users.create({ domain: 'wac.local', username: 'b', password: 'same' });
      const hashA = await store.hget(keys.basicCredential(a.id), 'hash');
      const hashB = await store.hget(keys.basicCredential(b.id), 'hash');
      expect(hashA).not.to.equal(hashB);
    });

    it('digestHa1 is null without a user or without a password', async () => {
      await users.create({ domain: 'wac.local', username: 'nopw' });
      expect(await users.digestHa1('wac.local', 'nopw')).to.equal(null);
      expect(await users.digestHa1('wac.local', 'ghost')).to.equal(null);
    });

    it('verifyPassword accepts the right password only', async () => {
      const user = await users.create({ domain: 'wac.local', username: 'alice', password: 'right' });
      expect(await users.verifyPassword(user.id, 'right')).to.equal(true);
      expect(await users.verifyPassword(user.id, 'wrong')).to.equal(false);
      expect(await users.verifyPassword(user.id, '')).to.equal(false);
    });

    it('verifyPassword is false for a user without a password or an unknown user', async () => {
      const user = await users.create({ domain: 'wac.local', username: 'nopw' });
      expect(await users.verifyPassword(user.id, '')).to.equal(false);
      expect(await users.verifyPassword('nobody', 'x')).to.equal(false);
    });

    it('setPassword replaces both HA1 and hash', async () => {
      const user = await users.create({ domain: 'wac.local', username: 'alice', password: 'old' });
      await users.setPassword(user.id, 'new');
      expect(await users.verifyPassword(user.id, 'new')).to.equal(true);
      expect(await users.verifyPassword(user.id, 'old')).to.equal(false);
      expect(await users.digestHa1('wac.local', 'alice')).to.equal(md5('alice:wac.local:new'));
    });

    it('setPassword gives a password to a user created without one', async () => {
      const user = await users.create({ domain: 'wac.local', username: 'late' });
      await users.setPassword(user.id, 'pw');
      expect(await users.digestHa1('wac.local', 'late')).to.equal(md5('late:wac.local:pw'));
    });

    it('setPassword fails with not_found for an unknown user and writes nothing', async () => {
      await expectModelError(users.setPassword('nobody', 'pw'), 'not_found');
      expect(await store.keys('')).to.deep.equal([]);
    });
  });
});
