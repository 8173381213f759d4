import { expect } from 'chai';
import { keys } from '../../shared/store/keys';
import { ApiClient, adminClient, userClient } from '../support/api';
import { BACKENDS, startServerOn, TestServer } from '../support/server';

for (const backend of BACKENDS) {
  describe(`/sapi/phonebooks (${backend})`, function () {
    let srv: TestServer;
    let admin: ApiClient;
    const c: Record<string, ApiClient> = {};
    const id: Record<string, string> = {};
    let sales: string;
    let support: string;

    before(async function () {
      srv = await startServerOn(backend, this);
      admin = await adminClient(srv);
      for (const name of ['alice', 'bob', 'carol']) {
        const u = await userClient(srv, name, `${name}-pw`);
        c[name] = u.client;
        id[name] = u.id;
      }
      c.anon = (await userClient(srv, 'anon', 'anon-pw', 'anonymous')).client;
      // alice owns Sales (with bob); carol owns Support alone.
      sales = (await c.alice.post('/usersgroups', { name: 'Sales', participants: [id.bob] })).body.id;
      support = (await c.carol.post('/usersgroups', { name: 'Support' })).body.id;
    });
    after(async () => {
      await srv?.close();
    });

    const all = async () => (await admin.get('/phonebooks?limit=1000')).body;
    const snapshot = async () => {
      const store = srv.wac.store;
      const out: Record<string, unknown> = { list: await all() };
      for (const k of (await store.keys('group-phonebooks:')).sort()) out[k] = (await store.smembers(k)).sort();
      for (const k of (await store.keys('rev:phonebook:')).sort()) out[k] = await store.get(k);
      return out;
    };
    const names = (body: { items: Array<{ name: string }> }) => body.items.map((p) => p.name).sort();

    it('creates a phonebook (admin) with contacts of every address kind and subscriber groups', async () => {
      const contacts = [
        { name: 'Reception', address: '+34987654321' },
        { name: 'Bob', address: 'bob' },
        { name: 'Peter', address: 'peter@acme.com' },
        { name: 'Support desk', address: support },
      ];
      const r = await admin.post('/phonebooks', { name: 'Company', contacts, subscribers: [sales] });
      expect(r.status).to.equal(201);
      expect(r.headers.get('location')).to.equal(`/sapi/phonebooks/${r.body.id}`);
      expect(r.body).to.have.all.keys('id', 'name', 'contacts', 'subscribers', 'createdAt', 'updatedAt');
      expect(r.body.subscribers).to.deep.equal([sales]);
      expect(r.body.contacts.map(({ name, address }: { name: string; address: string }) => ({ name, address }))).to.deep.equal(contacts);
      for (const ct of r.body.contacts) expect(ct.id).to.match(/^[0-9a-f-]{36}$/);
      expect((await admin.get(`/phonebooks/${r.body.id}`)).body).to.deep.equal(r.body);
      expect(await srv.wac.store.smembers(keys.groupPhonebooks(sales))).to.deep.equal([r.body.id]);
      const empty = await admin.post('/phonebooks', { name: 'Empty' });
      expect(empty.status).to.equal(201);
      expect(empty.body).to.deep.include({ contacts: [], subscribers: [] });
    });

    it('answers 400 naming the field for bad bodies and 404 for an unknown subscriber, creating nothing', async () => {
      const before = await snapshot();
      const cases: Array<[unknown, string]> = [
        [{}, 'name'],
        [{ name: '' }, 'name'],
        [{ name: 'P', contacts: {} }, 'contacts'],
        [{ name: 'P', contacts: [{ name: 'X' }] }, 'contacts.0.address'],
        [{ name: 'P', contacts: [{ name: 'X', address: '+0123' }] }, 'contacts.0.address'],
        [{ name: 'P', contacts: [{ name: 'X', address: 'two words' }] }, 'contacts.0.address'],
        [{ name: 'P', contacts: [{ name: 'X', address: 'a@b@c' }] }, 'contacts.0.address'],
        [{ name: 'P', contacts: [{ name: 'X', address: 'sip:bob@x' }] }, 'contacts.0.address'],
        [{ name: 'P', contacts: [{ name: 'X', address: 'bob', phone: 1 }] }, 'phone'],
        [{ name: 'P', contacts: [{ name: 'X', address: 'bob' }, { name: 'X', address: 'carol' }] }, 'contacts.1.name'],
        [{ name: 'P', subscribers: 'sales' }, 'subscribers'],
        [{ name: 'P', extra: true }, 'extra'],
      ];
      for (const [body, field] of cases) {
        const r = await admin.post('/phonebooks', body);
        expect(r.status, JSON.stringify(body)).to.equal(400);
        expect(JSON.stringify(r.body.error), JSON.stringify(body)).to.contain(field);
      }
      const r = await admin.post('/phonebooks', { name: 'P', subscribers: [sales, 'no-such-group'] });
      expect(r.status).to.equal(404);
      expect(r.body.error.message).to.equal('usersgroup no-such-group does not exist');
      expect(await snapshot()).to.deep.equal(before);
    });

    it('lets only admins write; users read the phonebooks their groups subscribe to; anonymous nothing', async () => {
      const company = (await all()).items.find((p: { name: string }) => p.name === 'Company');
      expect((await c.alice.post('/phonebooks', { name: 'Mine' })).status).to.equal(403);
      expect((await c.alice.put(`/phonebooks/${company.id}`, { name: 'Mine' })).status).to.equal(403);
      expect((await c.alice.del(`/phonebooks/${company.id}`)).status).to.equal(403);
      expect((await c.alice.post(`/phonebooks/${company.id}/contacts`, { name: 'Z', address: 'z' })).status).to.equal(403);
      expect((await c.anon.get('/phonebooks')).status).to.equal(403);
      expect((await admin.get('/phonebooks', { token: null })).status).to.equal(401);

      expect(names((await c.bob.get('/phonebooks')).body)).to.deep.equal(['Company']);
      expect((await c.bob.get(`/phonebooks/${company.id}`)).body).to.deep.equal(company);
      expect(names((await c.carol.get('/phonebooks')).body)).to.deep.equal([]);
      const denied = await c.carol.get(`/phonebooks/${company.id}`);
      expect(denied.status).to.equal(403);
      expect(denied.body.error.code).to.equal('forbidden');
      expect((await admin.get('/phonebooks/no-such-book')).status).to.equal(404);
      expect(names((await admin.get(`/phonebooks?subscriber=${sales}`)).body)).to.deep.equal(['Company']);
      expect(names((await admin.get('/phonebooks?search=comp')).body)).to.deep.equal(['Company']);
    });

    it('updates fields, replaces lists keeping given contact ids, and moves access with the subscribers', async () => {
      const company = (await all()).items.find((p: { name: string }) => p.name === 'Company');
      const kept = company.contacts[0];
      const r = await admin.put(`/phonebooks/${company.id}`, {
        name: 'Company book',
        contacts: [kept, { name: 'New', address: '+12025550123' }],
        subscribers: [support],
      });
      expect(r.status).to.equal(200);
      expect(r.body.name).to.equal('Company book');
      expect(r.body.contacts[0]).to.deep.equal(kept);
      expect(r.body.contacts[1]).to.include({ name: 'New', address: '+12025550123' });
      expect(r.body.subscribers).to.deep.equal([support]);
      expect(names((await c.bob.get('/phonebooks')).body)).to.deep.equal([]);
      expect(names((await c.carol.get('/phonebooks')).body)).to.deep.equal(['Company book']);
      expect(await srv.wac.store.smembers(keys.groupPhonebooks(sales))).to.deep.equal([]);

      const only = await admin.put(`/phonebooks/${company.id}`, { name: 'Company' });
      expect(only.body).to.deep.include({ contacts: r.body.contacts, subscribers: [support] });
    });

    it('refuses a bad update with 400/404 and leaves the phonebook untouched', async () => {
      const company = (await all()).items.find((p: { name: string }) => p.name === 'Company');
      const before = await snapshot();
      expect((await admin.put(`/phonebooks/${company.id}`, { subscribers: [support, 'ghost'] })).status).to.equal(404);
      expect((await admin.put(`/phonebooks/${company.id}`, { name: 'X', contacts: [{ name: 'A', address: 'bad address' }] })).status).to.equal(400);
      expect((await admin.put(`/phonebooks/${company.id}`, { contacts: [{ name: 'A', address: 'a' }, { name: 'A', address: 'b' }] })).status).to.equal(400);
      expect((await admin.put('/phonebooks/no-such-book', { name: 'X' })).status).to.equal(404);
      expect(await snapshot()).to.deep.equal(before);
    });

    it('adds and removes contacts and subscribers one at a time', async () => {
      const company = (await all()).items.find((p: { name: string }) => p.name === 'Company');
      const added = await admin.post(`/phonebooks/${company.id}/contacts`, { name: 'Alice', address: 'alice@wac.local' });
      expect(added.status).to.equal(201);
      expect(added.body).to.include({ name: 'Alice', address: 'alice@wac.local' });
      expect((await admin.post(`/phonebooks/${company.id}/contacts`, { name: 'Alice', address: 'other' })).status).to.equal(409);
      expect((await admin.post(`/phonebooks/${company.id}/contacts`, { name: 'Bad', address: '' })).status).to.equal(400);
      expect((await admin.get(`/phonebooks/${company.id}`)).body.contacts.map((x: { name: string }) => x.name)).to.include('Alice');
      expect((await admin.del(`/phonebooks/${company.id}/contacts/${added.body.id}`)).status).to.equal(204);
      expect((await admin.del(`/phonebooks/${company.id}/contacts/${added.body.id}`)).status).to.equal(404);

      const sub = await admin.post(`/phonebooks/${company.id}/subscribers`, { groupId: sales });
      expect(sub.status).to.equal(200);
      expect(sub.body.subscribers).to.deep.equal([support, sales]);
      expect(names((await c.bob.get('/phonebooks')).body)).to.deep.equal(['Company']);
      expect((await admin.post(`/phonebooks/${company.id}/subscribers`, { groupId: sales })).status).to.equal(409);
      expect((await admin.post(`/phonebooks/${company.id}/subscribers`, { groupId: 'ghost' })).status).to.equal(404);
      const unsub = await admin.del(`/phonebooks/${company.id}/subscribers/${sales}`);
      expect(unsub.body.subscribers).to.deep.equal([support]);
      expect((await c.bob.get(`/phonebooks/${company.id}`)).status).to.equal(403);
      expect((await admin.del(`/phonebooks/${company.id}/subscribers/${sales}`)).status).to.equal(404);
    });

    it('follows group changes: a new participant reads at once; a deleted group stops being a subscriber', async () => {
      const company = (await all()).items.find((p: { name: string }) => p.name === 'Company');
      expect((await c.carol.post(`/usersgroups/${support}/participants`, { userId: id.alice })).status).to.equal(200);
      expect(names((await c.alice.get('/phonebooks')).body)).to.deep.equal(['Company']);
      const temp = (await c.carol.post('/usersgroups', { name: 'Temp' })).body.id;
      await admin.post(`/phonebooks/${company.id}/subscribers`, { groupId: temp });
      expect((await c.carol.del(`/usersgroups/${temp}`)).status).to.equal(204);
      expect((await admin.get(`/phonebooks/${company.id}`)).body.subscribers).to.deep.equal([support]);
      // The stale id is dropped by the next write, and the group cannot be subscribed again.
      await admin.put(`/phonebooks/${company.id}`, { name: 'Company' });
      expect((await admin.post(`/phonebooks/${company.id}/subscribers`, { groupId: temp })).status).to.equal(404);
    });

    it('deletes a phonebook (admin) with its subscription index entries', async () => {
      const company = (await all()).items.find((p: { name: string }) => p.name === 'Company');
      expect((await admin.del(`/phonebooks/${company.id}`)).status).to.equal(204);
      expect((await admin.get(`/phonebooks/${company.id}`)).status).to.equal(404);
      expect((await admin.del(`/phonebooks/${company.id}`)).status).to.equal(404);
      expect(await srv.wac.store.smembers(keys.groupPhonebooks(support))).to.deep.equal([]);
      expect(names((await c.carol.get('/phonebooks')).body)).to.deep.equal([]);
      expect(names(await all())).to.deep.equal(['Empty']);
    });
  });
}
