import { expect } from 'chai';
import { keys } from '../../shared/store/keys';
import { digestHa1 } from '../../shared/model/secret';
import { ApiClient, RecordingClient } from '../support/api';
import { ADMIN_PASSWORD, BACKENDS, startServerOn, TestServer } from '../support/server';

/** Every response body seen, to prove at the end that no secret ever left the server. */
const seen: string[] = [];

class Recorder extends RecordingClient {
  constructor(base: string, token?: string) {
    super(base, token, seen);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const backend of BACKENDS) {
  describe(`/sapi/credentials (${backend})`, function () {
    let srv: TestServer;
    let admin: Recorder;
    let anon: Recorder;
    const ids: Record<string, string> = {};
    const secrets = ['alice-pass-1', 'alice-pass-2', 'bob-pass', 'anon-pass', 'ims-secret-pw', 'turn-secret', 'ims-other-pw', 'carol-pass', 'wrong-second', 'dave-pass', 'erin-a', 'erin-b', 'erin-c'];

    const login = async (username: string, password: string) =>
      new Recorder(srv.adminUrl).post('/token', { grant_type: 'password', username, password }, { token: null });

    const clientFor = async (username: string, password: string): Promise<Recorder> => {
      const r = await login(username, password);
      expect(r.status, `login ${username}`).to.equal(200);
      return new Recorder(srv.adminUrl, r.body.access_token);
    };

    /** Creates a user through the API and gives it a password through a basic credential. */
    const newUser = async (username: string, password?: string, role?: string): Promise<string> => {
      const u = await admin.post('/users', { username, ...(role && { role }) });
      expect(u.status, JSON.stringify(u.body)).to.equal(201);
      ids[username] = u.body.id;
      if (password) {
        const c = await admin.post('/credentials', { type: 'basic', user: u.body.id, data: { password } });
        expect(c.status, JSON.stringify(c.body)).to.equal(201);
      }
      return u.body.id;
    };

    const allCredentials = async () => (await admin.get('/credentials?limit=1000')).body;

    before(async function () {
      srv = await startServerOn(backend, this);
      const t = await new ApiClient(srv.adminUrl).post('/token', { grant_type: 'password', username: 'admin', password: ADMIN_PASSWORD });
      admin = new Recorder(srv.adminUrl, t.body.access_token);
      await newUser('alice');
      await newUser('bob', 'bob-pass');
      await newUser('anon', 'anon-pass', 'anonymous');
      anon = await clientFor('anon', 'anon-pass');
    });
    after(async () => {
      await srv?.close();
    });

    it('creates a basic credential (defaults: source wac, context {}, user domain, lease 0) that becomes the user\'s password', async () => {
      expect((await login('alice', 'alice-pass-1')).status).to.equal(401);
      const r = await admin.post('/credentials', { type: 'basic', user: ids.alice, data: { password: 'alice-pass-1' } });
      expect(r.status).to.equal(201);
      expect(r.headers.get('location')).to.equal(`/sapi/credentials/${r.body.id}`);
      expect(r.body).to.include({ type: 'basic', source: 'wac', domain: 'wac.local', user: ids.alice, lease: 0, expiresAt: null });
      expect(r.body.context).to.deep.equal({});
      expect(r.body.data).to.deep.equal({});
      expect(Object.keys(r.body).sort()).to.deep.equal(['context', 'createdAt', 'data', 'domain', 'expiresAt', 'id', 'lease', 'source', 'type', 'updatedAt', 'user']);
      ids.aliceBasic = r.body.id;
      expect((await login('alice', 'alice-pass-1')).status).to.equal(200);
      expect(await srv.users.digestHa1('wac.local', 'alice')).to.equal(digestHa1('alice', 'wac.local', 'alice-pass-1'));
      const got = await admin.get(`/credentials/${r.body.id}`);
      expect(got.status).to.equal(200);
      expect(got.body).to.deep.equal(r.body);
    });

    it('creates an ims credential from the documented example; its password and TURN credential are never returned', async () => {
      const body = {
        source: 'wac', type: 'ims', context: { app: 'x' }, domain: 'wac.local', user: ids.alice, lease: 0,
        data: {
          username: 'alice@quobiscom', userauthname: '123@10.2.3.4', password: 'ims-secret-pw', authserver: 'wss://sipowsgw.quobis.com',
          iceserver: ['stun:stun.example.org', { urls: 'turn:158.61.103.18', credential: 'turn-secret', username: 'alice' }],
        },
      };
      const r = await admin.post('/credentials', body);
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body).to.include({ type: 'ims', user: ids.alice, domain: 'wac.local' });
      expect(r.body.context).to.deep.equal({ app: 'x' });
      expect(r.body.data).to.deep.equal({
        username: 'alice@quobiscom', userauthname: '123@10.2.3.4', authserver: 'wss://sipowsgw.quobis.com',
        iceserver: ['stun:stun.example.org', { urls: 'turn:158.61.103.18', username: 'alice', hasCredential: true }],
      });
      ids.aliceIms = r.body.id;
      // The secrets are stored apart from the document.
      const secret = JSON.parse((await srv.wac.store.get(keys.credentialSecret(r.body.id)))!);
      expect(secret).to.deep.equal({ password: 'ims-secret-pw', iceCredentials: [null, 'turn-secret'] });
      expect(await srv.wac.store.get(keys.credential(r.body.id))).to.not.contain('secret');
    });

    it('refuses a second basic credential for a user with 409 and leaves the password and the list untouched', async () => {
      const before = await allCredentials();
      const r = await admin.post('/credentials', { type: 'basic', user: ids.alice, data: { password: 'wrong-second' } });
      expect(r.status).to.equal(409);
      expect(r.body.error.message).to.contain('basic');
      expect(await allCredentials()).to.deep.equal(before);
      expect((await login('alice', 'alice-pass-1')).status).to.equal(200);
      expect((await login('alice', 'wrong-second')).status).to.equal(401);
    });

    it('of two concurrent basic credentials for one user, exactly one is created', async () => {
      const id = await newUser('erin');
      const rs = await Promise.all(['erin-a', 'erin-b', 'erin-c'].map((password) => admin.post('/credentials', { type: 'basic', user: id, data: { password } })));
      expect(rs.map((r) => r.status).sort()).to.deep.equal([201, 409, 409]);
      expect((await admin.get(`/credentials?user=${id}`)).body.total).to.equal(1);
      const winner = ['erin-a', 'erin-b', 'erin-c'][rs.findIndex((r) => r.status === 201)];
      expect((await login('erin', winner)).status).to.equal(200);
    });

    it('answers 400 naming the field for missing fields, wrong types, unknown fields and bad values, writing nothing', async () => {
      const before = await allCredentials();
      const basic = { type: 'basic', user: ids.bob, data: { password: 'x' } };
      const ims = { type: 'ims', user: ids.bob, data: { username: 'u', userauthname: 'a', password: 'p', authserver: 'wss://gw', iceserver: [] } };
      const cases: Array<[unknown, string]> = [
        [{ user: ids.bob, data: { password: 'x' } }, 'type'],
        [{ ...basic, type: 'oauth2' }, 'type'],
        [{ ...basic, type: 7 }, 'type'],
        [{ type: 'basic', user: ids.bob }, 'data'],
        [{ ...basic, data: 'x' }, 'data'],
        [{ ...basic, data: {} }, 'data.password'],
        [{ ...basic, data: { password: 5 } }, 'data.password'],
        [{ ...basic, data: { password: '' } }, 'data.password'],
        [{ ...basic, data: { password: 'x', extra: 1 } }, 'extra'],
        [{ ...basic, lease: -1 }, 'lease'],
        [{ ...basic, lease: 1.5 }, 'lease'],
        [{ ...basic, lease: '10' }, 'lease'],
        [{ ...basic, source: 3 }, 'source'],
        [{ ...basic, context: [1] }, 'context'],
        [{ ...basic, context: 'x' }, 'context'],
        [{ ...basic, user: 12 }, 'user'],
        [{ ...basic, unknownField: true }, 'unknownField'],
        [{ ...basic, domain: 'other.example' }, 'domain'],
        [{ ...basic, domain: 'bad domain!' }, 'domain'],
        [{ ...ims, data: { ...ims.data, userauthname: undefined } }, 'data.userauthname'],
        [{ ...ims, data: { ...ims.data, password: undefined } }, 'data.password'],
        [{ ...ims, data: { ...ims.data, iceserver: 'turn:x' } }, 'data.iceserver'],
        [{ ...ims, data: { ...ims.data, iceserver: [3] } }, 'data.iceserver.0'],
        [{ ...ims, data: { ...ims.data, authserver: 1 } }, 'data.authserver'],
      ];
      for (const [body, field] of cases) {
        const r = await admin.post('/credentials', body);
        expect(r.status, JSON.stringify(body)).to.equal(400);
        expect(JSON.stringify(r.body.error), JSON.stringify(body)).to.contain(field);
      }
      expect((await admin.post('/credentials', undefined, { raw: '{"type":' })).status).to.equal(400);
      expect((await admin.post('/credentials', undefined, { raw: '[1]' })).status).to.equal(400);
      expect(await allCredentials()).to.deep.equal(before);
      expect((await login('bob', 'bob-pass')).status).to.equal(200);
    });

    it('answers 404 for an unknown user and for unknown credential ids', async () => {
      const before = await allCredentials();
      const r = await admin.post('/credentials', { type: 'basic', user: 'no-such-user', data: { password: 'x' } });
      expect(r.status).to.equal(404);
      expect(JSON.stringify(r.body.error)).to.contain('user');
      expect((await admin.get('/credentials/nope')).status).to.equal(404);
      expect((await admin.put('/credentials/nope', { source: 'x' })).status).to.equal(404);
      expect((await admin.del('/credentials/nope')).status).to.equal(404);
      expect(await allCredentials()).to.deep.equal(before);
    });

    it('lists with {total, items}, filters by user and type, pages and orders', async () => {
      const all = await admin.get('/credentials');
      expect(all.status).to.equal(200);
      expect(all.body.total).to.equal(all.body.items.length);
      expect(all.body.items.map((c: { id: string }) => c.id)).to.include.members([ids.aliceBasic, ids.aliceIms]);
      const alice = await admin.get(`/credentials?user=${ids.alice}`);
      expect(alice.body.items.map((c: { id: string }) => c.id).sort()).to.deep.equal([ids.aliceBasic, ids.aliceIms].sort());
      const ims = await admin.get(`/credentials?user=${ids.alice}&type=ims`);
      expect(ims.body.items.map((c: { id: string }) => c.id)).to.deep.equal([ids.aliceIms]);
      const page = await admin.get(`/credentials?user=${ids.alice}&order=type&direction=desc&limit=1`);
      expect(page.body).to.deep.include({ total: 2 });
      expect(page.body.items.map((c: { type: string }) => c.type)).to.deep.equal(['ims']);
      expect((await admin.get('/credentials?type=oauth2')).status).to.equal(400);
      expect((await admin.get('/credentials?order=password')).status).to.equal(400);
    });

    it('lets a user see, add, change and delete only its own credentials', async () => {
      const alice = await clientFor('alice', 'alice-pass-1');
      const list = await alice.get('/credentials');
      expect(list.status).to.equal(200);
      expect(list.body.items.every((c: { user: string }) => c.user === ids.alice)).to.equal(true);
      expect(list.body.total).to.equal(2);
      expect((await alice.get(`/credentials?user=${ids.bob}`)).status).to.equal(403);
      expect((await alice.get(`/credentials?user=${ids.alice}`)).body.total).to.equal(2);

      const bobs = (await admin.get(`/credentials?user=${ids.bob}`)).body.items as Array<{ id: string }>;
      expect(bobs).to.have.length(1);
      const before = await allCredentials();
      expect((await alice.get(`/credentials/${bobs[0].id}`)).status).to.equal(404);
      expect((await alice.put(`/credentials/${bobs[0].id}`, { data: { password: 'hijack' } })).status).to.equal(404);
      expect((await alice.del(`/credentials/${bobs[0].id}`)).status).to.equal(404);
      const forBob = await alice.post('/credentials', { type: 'ims', user: ids.bob, data: { username: 'u', userauthname: 'a', password: 'ims-other-pw', authserver: 'wss://gw' } });
      expect(forBob.status).to.equal(403);
      expect(await allCredentials()).to.deep.equal(before);
      expect((await login('bob', 'bob-pass')).status).to.equal(200);

      // Without `user`, the credential is the caller's own.
      const mine = await alice.post('/credentials', { type: 'ims', data: { username: 'u', userauthname: 'a', password: 'ims-other-pw', authserver: 'wss://gw' } });
      expect(mine.status).to.equal(201);
      expect(mine.body.user).to.equal(ids.alice);
      expect((await alice.get(`/credentials/${mine.body.id}`)).status).to.equal(200);
      expect((await alice.del(`/credentials/${mine.body.id}`)).status).to.equal(204);
      expect((await alice.get(`/credentials/${mine.body.id}`)).status).to.equal(404);

      // A user changes its own password.
      const put = await alice.put(`/credentials/${ids.aliceBasic}`, { data: { password: 'alice-pass-2' } });
      expect(put.status).to.equal(200);
      expect(put.body.data).to.deep.equal({});
      expect((await login('alice', 'alice-pass-1')).status).to.equal(401);
      expect((await login('alice', 'alice-pass-2')).status).to.equal(200);
      expect(await srv.users.digestHa1('wac.local', 'alice')).to.equal(digestHa1('alice', 'wac.local', 'alice-pass-2'));
    });

    it('refuses anonymous callers with 403 and missing or wrong tokens with 401', async () => {
      const before = await allCredentials();
      const body = { type: 'basic', data: { password: 'x' } };
      for (const r of [
        await anon.get('/credentials'),
        await anon.get(`/credentials/${ids.aliceBasic}`),
        await anon.post('/credentials', body),
        await anon.put(`/credentials/${ids.aliceBasic}`, { source: 'x' }),
        await anon.del(`/credentials/${ids.aliceBasic}`),
      ]) expect(r.status).to.equal(403);
      for (const token of [null, 'not-a-jwt']) {
        for (const r of [
          await admin.get('/credentials', { token }),
          await admin.get(`/credentials/${ids.aliceBasic}`, { token }),
          await admin.post('/credentials', body, { token }),
          await admin.put(`/credentials/${ids.aliceBasic}`, { source: 'x' }, { token }),
          await admin.del(`/credentials/${ids.aliceBasic}`, { token }),
        ]) expect(r.status).to.equal(401);
      }
      expect(await allCredentials()).to.deep.equal(before);
    });

    it('updates source, context and ims data (keeping the ims password when left out); type, user, domain cannot change', async () => {
      const r = await admin.put(`/credentials/${ids.aliceIms}`, { source: 'idp', context: { k: 1 }, data: { username: 'alice2', userauthname: 'x@y', authserver: 'wss://gw2', iceserver: [] } });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body).to.include({ source: 'idp', type: 'ims', user: ids.alice });
      expect(r.body.context).to.deep.equal({ k: 1 });
      expect(r.body.data).to.deep.equal({ username: 'alice2', userauthname: 'x@y', authserver: 'wss://gw2', iceserver: [] });
      expect(r.body.updatedAt >= r.body.createdAt).to.equal(true);
      expect(JSON.parse((await srv.wac.store.get(keys.credentialSecret(ids.aliceIms)))!).password).to.equal('ims-secret-pw');
      expect((await admin.get(`/credentials/${ids.aliceIms}`)).body).to.deep.equal(r.body);

      const before = await allCredentials();
      const cases: Array<[unknown, string]> = [
        [{ type: 'basic' }, 'type'],
        [{ user: ids.bob }, 'user'],
        [{ domain: 'x.org' }, 'domain'],
        [{ lease: -5 }, 'lease'],
        [{ source: '' }, 'source'],
        [{ data: { password: 'x' } }, 'data.username'],
        [{ data: 'x' }, 'data'],
      ];
      for (const [body, field] of cases) {
        const res = await admin.put(`/credentials/${ids.aliceIms}`, body);
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect(JSON.stringify(res.body.error), JSON.stringify(body)).to.contain(field);
      }
      for (const [body, field] of [[{ data: { password: 3 } }, 'data.password'], [{ data: { pass: 'x' } }, 'pass']] as const) {
        const res = await admin.put(`/credentials/${ids.aliceBasic}`, body);
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect(JSON.stringify(res.body.error)).to.contain(field);
      }
      expect(await allCredentials()).to.deep.equal(before);
      expect((await login('alice', 'alice-pass-2')).status).to.equal(200);
    });

    it('a basic credential with a lease stops working for the token endpoint and SIP digest once it runs out', async function () {
      this.timeout(15_000);
      await newUser('carol');
      const r = await admin.post('/credentials', { type: 'basic', user: ids.carol, lease: 1, data: { password: 'carol-pass' } });
      expect(r.status).to.equal(201);
      expect(r.body.lease).to.equal(1);
      const expires = Date.parse(r.body.expiresAt);
      expect(expires - Date.parse(r.body.createdAt)).to.equal(1000);
      expect((await login('carol', 'carol-pass')).status).to.equal(200);
      expect(await srv.users.digestHa1('wac.local', 'carol')).to.be.a('string');
      await sleep(Math.max(0, expires - Date.now()) + 200);
      expect((await login('carol', 'carol-pass')).status).to.equal(401);
      expect(await srv.users.digestHa1('wac.local', 'carol')).to.equal(null);

      // Lifting the lease (lease 0) makes the same password work again, without resending it.
      const lifted = await admin.put(`/credentials/${r.body.id}`, { lease: 0 });
      expect(lifted.status).to.equal(200);
      expect(lifted.body).to.include({ lease: 0, expiresAt: null });
      expect((await login('carol', 'carol-pass')).status).to.equal(200);
      // A new lease starts now.
      const again = await admin.put(`/credentials/${r.body.id}`, { lease: 3600 });
      expect(Date.parse(again.body.expiresAt)).to.be.greaterThan(Date.now() + 3500_000);
      expect((await login('carol', 'carol-pass')).status).to.equal(200);
    });

    it('deleting a basic credential removes the user\'s password; a new one may then be added', async () => {
      const r = await admin.del(`/credentials/${ids.aliceBasic}`);
      expect(r.status).to.equal(204);
      expect(r.body).to.equal(undefined);
      expect((await admin.get(`/credentials/${ids.aliceBasic}`)).status).to.equal(404);
      expect((await admin.del(`/credentials/${ids.aliceBasic}`)).status).to.equal(404);
      expect((await login('alice', 'alice-pass-2')).status).to.equal(401);
      expect(await srv.users.digestHa1('wac.local', 'alice')).to.equal(null);
      expect(await srv.wac.store.hgetall(keys.basicCredential(ids.alice))).to.deep.equal({});
      const again = await admin.post('/credentials', { type: 'basic', user: ids.alice, data: { password: 'alice-pass-1' } });
      expect(again.status).to.equal(201);
      expect((await login('alice', 'alice-pass-1')).status).to.equal(200);
    });

    it('deleting an ims credential removes its stored secrets', async () => {
      expect((await admin.del(`/credentials/${ids.aliceIms}`)).status).to.equal(204);
      expect(await srv.wac.store.get(keys.credentialSecret(ids.aliceIms))).to.equal(null);
      expect((await admin.get(`/credentials?user=${ids.alice}`)).body.items.map((c: { id: string }) => c.id)).to.not.include(ids.aliceIms);
    });

    it('deleting a user keeps its credentials', async () => {
      await newUser('dave', 'dave-pass');
      const before = (await admin.get(`/credentials?user=${ids.dave}`)).body;
      expect(before.total).to.equal(1);
      expect((await admin.del(`/users/${ids.dave}`)).status).to.equal(204);
      expect((await admin.get(`/credentials?user=${ids.dave}`)).body).to.deep.equal(before);
      expect((await admin.get(`/credentials/${before.items[0].id}`)).status).to.equal(200);
      expect((await login('dave', 'dave-pass')).status).to.equal(401);
      // The kept credential can still be deleted.
      expect((await admin.del(`/credentials/${before.items[0].id}`)).status).to.equal(204);
    });

    it('is described in the OpenAPI document', async () => {
      const doc = await admin.get('/openapi.json');
      expect(doc.body.paths['/sapi/credentials']).to.have.keys('get', 'post');
      expect(doc.body.paths['/sapi/credentials/{id}']).to.have.keys('get', 'put', 'delete');
    });

    it('never returned a password, hash or other secret in any response', () => {
      expect(seen.length).to.be.greaterThan(50);
      const all = seen.join('\n');
      for (const s of secrets) expect(all, s).to.not.contain(s);
      for (const s of ['"password"', 'scrypt$', '"ha1"', '"hash"', '"credential":"', 'iceCredentials']) expect(all, s).to.not.contain(s);
    });
  });
}
