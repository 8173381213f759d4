import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ApiClient, adminClient, userClient } from '../support/api';
import { RedisServer, startRedisOrSkip } from '../support/redis';
import { startTestServer, TestServer } from '../support/server';

for (const backend of ['memory', 'redis'] as const) {
  describe(`/sapi/domains (${backend})`, function () {
    let srv: TestServer;
    let admin: ApiClient;
    let redis: RedisServer | undefined;
    let dir: string;
    let defaultId: string;

    const start = async () => {
      srv = await startTestServer({ redisUrl: redis?.url, dir });
      admin = await adminClient(srv);
    };

    before(async function () {
      if (backend === 'redis') redis = await startRedisOrSkip(this);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-domains-'));
      await start();
    });
    after(async () => {
      await srv?.close();
      await redis?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const list = async () => (await admin.get('/domains?limit=1000')).body;
    const byName = async (name: string) => (await list()).items.find((d: { domain: string }) => d.domain === name);

    it('has the default domain from start-up, with the documented fields', async () => {
      const r = await admin.get('/domains');
      expect(r.status).to.equal(200);
      expect(r.body.total).to.equal(1);
      const d = r.body.items[0];
      expect(d).to.include({ domain: 'wac.local', parent: null, enableAnonymous: false, anonymousExpiration: 0 });
      expect(d).to.have.all.keys('id', 'domain', 'parent', 'origins', 'enableAnonymous', 'anonymousExpiration', 'anonymousCapabilities', 'createdAt', 'updatedAt');
      expect((await admin.get(`/domains/${d.id}`)).body).to.deep.equal(d);
      defaultId = d.id;
    });

    it('is admin only', async () => {
      const { client: user } = await userClient(srv, 'plain', 'plain-pw');
      for (const r of [await user.get('/domains'), await user.get(`/domains/${defaultId}`), await user.post('/domains', { domain: 'x.org' }), await user.del(`/domains/${defaultId}`)]) {
        expect(r.status).to.equal(403);
      }
      expect((await admin.get('/domains', { token: null })).status).to.equal(401);
      await srv.users.delete((await srv.users.findByName(srv.domain, 'plain'))!.id);
    });

    it('creates domains (unique names, existing parent) that users can then live in', async () => {
      const acme = await admin.post('/domains', { domain: 'acme.com', origins: ['/.*/'], enableAnonymous: true, anonymousExpiration: 3600, anonymousCapabilities: ['chat'] });
      expect(acme.status).to.equal(201);
      expect(acme.headers.get('location')).to.equal(`/sapi/domains/${acme.body.id}`);
      expect(acme.body).to.deep.include({ domain: 'acme.com', parent: null, origins: ['/.*/'], enableAnonymous: true, anonymousExpiration: 3600, anonymousCapabilities: ['chat'] });
      const sub = await admin.post('/domains', { domain: 'sales.acme.com', parent: acme.body.id });
      expect(sub.status).to.equal(201);
      expect(sub.body.parent).to.equal(acme.body.id);
      expect((await admin.get(`/domains?parent=${acme.body.id}`)).body.items.map((d: { domain: string }) => d.domain)).to.deep.equal(['sales.acme.com']);
      expect((await admin.get('/domains?parent=null&order=domain')).body.items.map((d: { domain: string }) => d.domain)).to.deep.equal(['acme.com', 'wac.local']);
      expect((await admin.get('/domains?domain=acme.com')).body.total).to.equal(1);

      const u = await admin.post('/users', { domain: 'acme.com', username: 'alice' });
      expect(u.status).to.equal(201);
      expect(u.body.domain).to.equal('acme.com');
      const nope = await admin.post('/users', { domain: 'nope.org', username: 'alice' });
      expect(nope.status).to.equal(404);
      expect(nope.body.error.message).to.contain('nope.org');
    });

    it('refuses a taken name (409), a bad body (400 naming the field) and an unknown parent (404), creating nothing', async () => {
      const before = await list();
      const taken = await admin.post('/domains', { domain: 'acme.com' });
      expect(taken.status).to.equal(409);
      expect(taken.body.error.message).to.equal('domain acme.com already exists');
      expect((await admin.post('/domains', { domain: 'wac.local' })).status).to.equal(409);
      const cases: Array<[unknown, string]> = [
        [{}, 'domain'],
        [{ domain: 'bad domain' }, 'domain'],
        [{ domain: 'a:b' }, 'domain'],
        [{ domain: 'ok.org', enableAnonymous: 'yes' }, 'enableAnonymous'],
        [{ domain: 'ok.org', anonymousExpiration: -1 }, 'anonymousExpiration'],
        [{ domain: 'ok.org', origins: 'x' }, 'origins'],
        [{ domain: 'ok.org', services: {} }, 'services'],
      ];
      for (const [body, field] of cases) {
        const r = await admin.post('/domains', body);
        expect(r.status, JSON.stringify(body)).to.equal(400);
        expect(JSON.stringify(r.body.error), JSON.stringify(body)).to.contain(field);
      }
      const orphan = await admin.post('/domains', { domain: 'orphan.org', parent: 'no-such-domain' });
      expect(orphan.status).to.equal(404);
      expect(orphan.body.error.message).to.equal('parent domain no-such-domain does not exist');
      expect(await list()).to.deep.equal(before);
    });

    it('never removes or renames the default domain, but lets its settings change', async () => {
      const before = await list();
      const del = await admin.del(`/domains/${defaultId}`);
      expect(del.status).to.equal(403);
      expect(del.body.error).to.deep.equal({ code: 'forbidden', message: 'the default domain wac.local cannot be removed' });
      const rename = await admin.put(`/domains/${defaultId}`, { domain: 'other.local' });
      expect(rename.status).to.equal(403);
      expect(rename.body.error.message).to.equal('the default domain wac.local cannot be renamed');
      const acme = await byName('acme.com');
      const reparent = await admin.put(`/domains/${defaultId}`, { parent: acme.id });
      expect(reparent.status).to.equal(403);
      expect(await list()).to.deep.equal(before);

      const ok = await admin.put(`/domains/${defaultId}`, { enableAnonymous: true, origins: ['/^https:\\/\\/app\\.example$/'] });
      expect(ok.status).to.equal(200);
      expect(ok.body).to.deep.include({ domain: 'wac.local', enableAnonymous: true, origins: ['/^https:\\/\\/app\\.example$/'], parent: null });
      expect((await admin.put(`/domains/${defaultId}`, { domain: 'wac.local', parent: null })).status).to.equal(200);
    });

    it('refuses to remove a domain with users or children, to rename one with users, and parent cycles', async () => {
      const acme = await byName('acme.com');
      const sales = await byName('sales.acme.com');
      const before = await list();
      const withUsers = await admin.del(`/domains/${acme.id}`);
      expect(withUsers.status).to.equal(409);
      expect(withUsers.body.error.message).to.equal('domain acme.com has users; remove them first');
      const rename = await admin.put(`/domains/${acme.id}`, { domain: 'acme.org' });
      expect(rename.status).to.equal(409);
      expect(rename.body.error.message).to.equal('domain acme.com has users; it cannot be renamed');
      const cycle = await admin.put(`/domains/${acme.id}`, { parent: sales.id });
      expect(cycle.status).to.equal(400);
      expect((await admin.put(`/domains/${acme.id}`, { parent: acme.id })).status).to.equal(400);
      expect((await admin.put(`/domains/${acme.id}`, { parent: 'ghost' })).status).to.equal(404);
      expect((await admin.put(`/domains/${sales.id}`, { domain: 'acme.com' })).status).to.equal(409);
      expect((await admin.put('/domains/no-such-domain', { enableAnonymous: true })).status).to.equal(404);
      expect(await list()).to.deep.equal(before);

      const alice = (await admin.get('/users?domain=acme.com')).body.items[0];
      expect((await admin.del(`/users/${alice.id}`)).status).to.equal(204);
      const withChild = await admin.del(`/domains/${acme.id}`);
      expect(withChild.status).to.equal(409);
      expect(withChild.body.error.message).to.contain('child domains (sales.acme.com)');
    });

    it('renames an empty domain and removes it; users then cannot be created there', async () => {
      const sales = await byName('sales.acme.com');
      const r = await admin.put(`/domains/${sales.id}`, { domain: 'ventas.acme.com' });
      expect(r.status).to.equal(200);
      expect(r.body.domain).to.equal('ventas.acme.com');
      expect((await admin.post('/users', { domain: 'sales.acme.com', username: 'x' })).status).to.equal(404);
      expect((await admin.post('/domains', { domain: 'sales.acme.com' })).status).to.equal(201);
      expect((await admin.del(`/domains/${sales.id}`)).status).to.equal(204);
      expect((await admin.get(`/domains/${sales.id}`)).status).to.equal(404);
      expect((await admin.del(`/domains/${sales.id}`)).status).to.equal(404);
      const acme = await byName('acme.com');
      expect((await admin.del(`/domains/${acme.id}`)).status).to.equal(204);
      expect((await admin.post('/users', { domain: 'acme.com', username: 'alice' })).status).to.equal(404);
    });

    it('keeps one default domain, with the same id, across a restart', async () => {
      const before = await list();
      await srv.close();
      await start();
      expect(await list()).to.deep.equal(before);
      expect((await byName('wac.local')).id).to.equal(defaultId);
    });
  });
}
