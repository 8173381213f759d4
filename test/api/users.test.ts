import { expect } from 'chai';
import { ApiClient, adminClient, userClient } from '../support/api';
import { BACKENDS, startServerOn, TestServer } from '../support/server';

for (const backend of BACKENDS) {
  describe(`/sapi/users (${backend})`, function () {
    let srv: TestServer;
    let admin: ApiClient;
    before(async function () {
      srv = await startServerOn(backend, this, { ini: '[users]\ndefault_timezone = Atlantic/Canary\ndefault_locale = gl-ES\n' });
      admin = await adminClient(srv);
    });
    after(async () => {
      await srv?.close();
    });

    it('creates a user in the default domain with config defaults, answers 201 with Location', async () => {
      const r = await admin.post('/users', { username: 'alice', email: 'alice@example.org', mobilePhone: ['+34987654321'], capabilities: ['+c2cagent'] });
      expect(r.status).to.equal(201);
      expect(r.headers.get('location')).to.equal(`/sapi/users/${r.body.id}`);
      expect(r.body).to.include({ domain: 'wac.local', username: 'alice', role: 'user', currentTimezone: 'Atlantic/Canary', locale: 'gl-ES' });
      expect(r.body.mobilePhone).to.deep.equal(['+34987654321']);
      const got = await admin.get(`/users/${r.body.id}`);
      expect(got.body).to.deep.equal(r.body);
    });

    it('refuses a duplicate username in a domain with 409 and leaves data untouched', async () => {
      const before = await admin.get('/users');
      const r = await admin.post('/users', { username: 'alice' });
      expect(r.status).to.equal(409);
      expect(r.body.error.message).to.contain('alice');
      expect((await admin.get('/users')).body).to.deep.equal(before.body);
    });

    it('answers 400 naming the field for wrong types, unknown fields and bad values', async () => {
      const cases: Array<[unknown, string]> = [
        [{ username: 42 }, 'username'],
        [{}, 'username'],
        [{ username: 'bob', role: 'root' }, 'role'],
        [{ username: 'bob', email: 'not-an-email' }, 'email'],
        [{ username: 'bob', mobilePhone: 'x' }, 'mobilePhone'],
        [{ username: 'bob', unknownField: 1 }, 'unknownField'],
        [{ username: 'b o b' }, 'username'],
      ];
      for (const [body, field] of cases) {
        const r = await admin.post('/users', body);
        expect(r.status, JSON.stringify(body)).to.equal(400);
        expect(JSON.stringify(r.body.error), JSON.stringify(body)).to.contain(field);
      }
      const notObject = await admin.post('/users', undefined, { raw: '[1,2]' });
      expect(notObject.status).to.equal(400);
      expect((await admin.get('/users?search=bob')).body.total).to.equal(0);
    });

    it('answers 404 for an unknown domain and an unknown id', async () => {
      expect((await admin.post('/users', { username: 'x', domain: 'nowhere.example' })).status).to.equal(404);
      expect((await admin.get('/users/00000000-0000-0000-0000-000000000000')).status).to.equal(404);
      expect((await admin.put('/users/00000000-0000-0000-0000-000000000000', { email: 'a@b.co' })).status).to.equal(404);
      expect((await admin.del('/users/00000000-0000-0000-0000-000000000000')).status).to.equal(404);
    });

    it('lists {total, items} with search, order, direction, limit and offset', async () => {
      for (const n of ['zed', 'mia', 'Ñoño']) await admin.post('/users', { username: n, email: `${n === 'Ñoño' ? 'nono' : n}@list.example` });
      const all = await admin.get('/users?search=list.example&order=username&direction=desc');
      expect(all.body.total).to.equal(3);
      expect(all.body.items.map((u: { username: string }) => u.username)).to.deep.equal(['zed', 'Ñoño', 'mia']);
      const page = await admin.get('/users?search=list.example&order=username&limit=1&offset=1');
      expect(page.body.total).to.equal(3);
      expect(page.body.items.map((u: { username: string }) => u.username)).to.deep.equal(['Ñoño']);
      expect((await admin.get('/users?search=nono')).body.total).to.equal(1);
      expect((await admin.get('/users?search=NONO')).body.total).to.equal(1);
      expect((await admin.get('/users?order=password')).status).to.equal(400);
      expect((await admin.get('/users?limit=0')).status).to.equal(400);
      expect((await admin.get('/users?direction=up')).status).to.equal(400);
    });

    it('lets a user read and edit itself only, and never change its own role', async () => {
      const { client: bob, id: bobId } = await userClient(srv, 'bob', 'pw-bob');
      const alice = (await srv.users.findByName('wac.local', 'alice'))!;
      expect((await bob.get(`/users/${bobId}`)).status).to.equal(200);
      expect((await bob.get('/users/me')).body.id).to.equal(bobId);
      expect((await bob.get(`/users/${alice.id}`)).status).to.equal(403);
      const upd = await bob.put(`/users/${bobId}`, { email: 'bob@new.example', locale: 'es-ES' });
      expect(upd.status).to.equal(200);
      expect(upd.body).to.include({ email: 'bob@new.example', locale: 'es-ES', role: 'user' });
      expect((await bob.put(`/users/${bobId}`, { role: 'admin' })).status).to.equal(403);
      expect((await bob.put(`/users/${alice.id}`, { email: 'x@y.example' })).status).to.equal(403);
      expect((await bob.post('/users', { username: 'evil' })).status).to.equal(403);
      expect((await bob.del(`/users/${alice.id}`)).status).to.equal(403);
      expect((await srv.users.get(bobId))!.role).to.equal('user');
    });

    it('lets anonymous read only its own profile', async () => {
      const { client: anon, id } = await userClient(srv, 'guest', 'pw-guest', 'anonymous');
      expect((await anon.get('/users/me')).body.id).to.equal(id);
      expect((await anon.get(`/users/${id}`)).status).to.equal(200);
      expect((await anon.put(`/users/${id}`, { email: 'g@x.example' })).status).to.equal(403);
      expect((await anon.get('/users')).status).to.equal(403);
    });

    it('deletes a user (admin): gone from lists, its token stops working', async () => {
      const { client: carl, id } = await userClient(srv, 'carl', 'pw-carl');
      expect((await admin.del(`/users/${id}`)).status).to.equal(204);
      expect((await admin.get(`/users/${id}`)).status).to.equal(404);
      expect((await carl.get('/users/me')).status).to.equal(401);
      expect((await admin.post('/users', { username: 'carl' })).status).to.equal(201);
    });
  });
}
