import { expect } from 'chai';
import { digestHa1 } from '../../shared/model/secret';
import { SipMappings } from '../../shared/model/sip-mappings';
import { keys } from '../../shared/store/keys';
import { ApiClient, RecordingClient } from '../support/api';
import { ADMIN_PASSWORD, BACKENDS, startServerOn, TestServer } from '../support/server';

/** Every response body seen, to prove at the end that no secret ever left the server. */
const seen: string[] = [];

class Recorder extends RecordingClient {
  constructor(base: string, token?: string) {
    super(base, token, seen);
  }
}

interface Mapping {
  id: string;
  ownerUri: string;
  credential: { username: string };
}

for (const backend of BACKENDS) {
  describe(`/sapi/sipMappings (${backend})`, function () {
    let srv: TestServer;
    let admin: Recorder;
    let bob: Recorder;
    let anon: Recorder;
    let model: SipMappings;
    const ids: Record<string, string> = {};
    const secrets = ['sip-pass-205', 'sip-pass-206', 'sip-pass-207', 'bob-pass', 'anon-pass', 'dave-pass', 'group-sip-pw'];
    const GROUP = 'group-0001';

    /** Creates a user through the API, with a password (a basic credential) when given. */
    const newUser = async (username: string, password?: string, role?: string): Promise<string> => {
      const u = await admin.post('/users', { username, ...(role && { role }) });
      expect(u.status, JSON.stringify(u.body)).to.equal(201);
      ids[username] = u.body.id;
      if (password) expect((await admin.post('/credentials', { type: 'basic', user: u.body.id, data: { password } })).status).to.equal(201);
      return u.body.id;
    };
    const clientFor = async (username: string, password: string): Promise<Recorder> => {
      const r = await new Recorder(srv.adminUrl).post('/token', { grant_type: 'password', username, password });
      expect(r.status, `login ${username}`).to.equal(200);
      return new Recorder(srv.adminUrl, r.body.access_token);
    };
    const allMappings = async () => (await admin.get('/sipMappings?limit=1000')).body;
    const user = (name: string) => `wac-user:${ids[name]}`;

    before(async function () {
      srv = await startServerOn(backend, this);
      model = new SipMappings(srv.wac.store, { realm: srv.domain });
      const t = await new ApiClient(srv.adminUrl).post('/token', { grant_type: 'password', username: 'admin', password: ADMIN_PASSWORD });
      admin = new Recorder(srv.adminUrl, t.body.access_token);
      await newUser('alice');
      await newUser('bob', 'bob-pass');
      await newUser('anon', 'anon-pass', 'anonymous');
      bob = await clientFor('bob', 'bob-pass');
      anon = await clientFor('anon', 'anon-pass');
      // User groups belong to another module: a group is a `usersgroup:<id>` document.
      await srv.wac.store.write([{ op: 'set', key: keys.group(GROUP), value: JSON.stringify({ id: GROUP, name: 'sales' }) }]);
    });
    after(async () => {
      await srv?.close();
    });

    it('maps a SIP identity to a user (201 with Location); the password is kept only as HA1 and never returned', async () => {
      const r = await admin.post('/sipMappings', { ownerUri: user('alice'), credential: { username: '205', password: 'sip-pass-205' } });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.headers.get('location')).to.equal(`/sapi/sipMappings/${r.body.id}`);
      expect(r.body).to.include({ ownerUri: user('alice') });
      expect(r.body.credential).to.deep.equal({ username: '205' });
      expect(Object.keys(r.body).sort()).to.deep.equal(['createdAt', 'credential', 'id', 'ownerUri', 'updatedAt']);
      ids.m205 = r.body.id;
      expect((await admin.get(`/sipMappings/${r.body.id}`)).body).to.deep.equal(r.body);
      expect(await model.digestHa1('205')).to.equal(digestHa1('205', srv.domain, 'sip-pass-205'));
      expect(await model.findByUsername('205')).to.deep.equal(r.body);
      expect(await model.findByUsername('999')).to.equal(null);
      expect(await srv.wac.store.get(keys.sipMapping(r.body.id))).to.not.contain('sip-pass-205');
    });

    it('maps an identity without password (the documented example with password "") and to a group', async () => {
      const r = await admin.post('/sipMappings', { ownerUri: user('alice'), credential: { username: 'alice.sip', password: '' } });
      expect(r.status).to.equal(201);
      ids.mAlice = r.body.id;
      expect(await model.digestHa1('alice.sip')).to.equal(null);
      const g = await admin.post('/sipMappings', { ownerUri: `wac-group:${GROUP}`, credential: { username: '+3498800', password: 'group-sip-pw' } });
      expect(g.status).to.equal(201);
      ids.mGroup = g.body.id;
      expect((await admin.get(`/sipMappings?owner=wac-group:${GROUP}`)).body.items.map((m: Mapping) => m.id)).to.deep.equal([g.body.id]);
    });

    it('refuses a SIP username that is already mapped with 409, leaving data untouched', async () => {
      const before = await allMappings();
      const r = await admin.post('/sipMappings', { ownerUri: user('bob'), credential: { username: '205', password: 'x' } });
      expect(r.status).to.equal(409);
      expect(r.body.error.message).to.equal('SIP username 205 is already mapped');
      expect(await allMappings()).to.deep.equal(before);
      expect(await model.digestHa1('205')).to.equal(digestHa1('205', srv.domain, 'sip-pass-205'));
    });

    it('of concurrent mappings of one SIP username, exactly one is created', async () => {
      const rs = await Promise.all(['alice', 'bob', 'alice'].map((n) => admin.post('/sipMappings', { ownerUri: user(n), credential: { username: 'race' } })));
      expect(rs.map((r) => r.status).sort()).to.deep.equal([201, 409, 409]);
      const won = rs.find((r) => r.status === 201)!.body;
      expect((await model.findByUsername('race'))!.id).to.equal(won.id);
      expect((await admin.del(`/sipMappings/${won.id}`)).status).to.equal(204);
    });

    it('answers 404 for an owner that does not exist (user or group)', async () => {
      const before = await allMappings();
      for (const ownerUri of ['wac-user:no-such-user', 'wac-group:no-such-group']) {
        const r = await admin.post('/sipMappings', { ownerUri, credential: { username: '300' } });
        expect(r.status, ownerUri).to.equal(404);
        expect(r.body.error.message).to.contain(ownerUri);
      }
      expect(await allMappings()).to.deep.equal(before);
      expect(await model.findByUsername('300')).to.equal(null);
    });

    it('answers 400 naming the field for missing fields, wrong types, unknown fields and bad values', async () => {
      const before = await allMappings();
      const ok = { ownerUri: user('bob'), credential: { username: '400' } };
      const cases: Array<[unknown, string]> = [
        [{ credential: { username: '400' } }, 'ownerUri'],
        [{ ...ok, ownerUri: 'alice' }, 'ownerUri'],
        [{ ...ok, ownerUri: 'wac-user:' }, 'ownerUri'],
        [{ ...ok, ownerUri: 'wac-room:1' }, 'ownerUri'],
        [{ ...ok, ownerUri: 42 }, 'ownerUri'],
        [{ ownerUri: user('bob') }, 'credential'],
        [{ ...ok, credential: 'x' }, 'credential'],
        [{ ...ok, credential: {} }, 'credential.username'],
        [{ ...ok, credential: { username: 205 } }, 'credential.username'],
        [{ ...ok, credential: { username: 'a b' } }, 'credential.username'],
        [{ ...ok, credential: { username: 'bob@pbx' } }, 'credential.username'],
        [{ ...ok, credential: { username: '' } }, 'credential.username'],
        [{ ...ok, credential: { username: '400', password: 7 } }, 'credential.password'],
        [{ ...ok, credential: { username: '400', realm: 'x' } }, 'realm'],
        [{ ...ok, owner: 'x' }, 'owner'],
      ];
      for (const [body, field] of cases) {
        const r = await admin.post('/sipMappings', body);
        expect(r.status, JSON.stringify(body)).to.equal(400);
        expect(JSON.stringify(r.body.error), JSON.stringify(body)).to.contain(field);
      }
      expect((await admin.post('/sipMappings', undefined, { raw: '{"ownerUri"' })).status).to.equal(400);
      expect((await admin.get('/sipMappings?owner=bob')).status).to.equal(400);
      expect((await admin.get('/sipMappings?order=password')).status).to.equal(400);
      expect(await allMappings()).to.deep.equal(before);
    });

    it('lists with {total, items}, by owner, with search, order and paging', async () => {
      const all = await admin.get('/sipMappings');
      expect(all.status).to.equal(200);
      expect(all.body.total).to.equal(3);
      expect(all.body.items.map((m: Mapping) => m.credential.username)).to.deep.equal(['+3498800', '205', 'alice.sip']);
      expect(all.body.items[0]).to.not.have.property('username');
      const alice = await admin.get(`/sipMappings?owner=${encodeURIComponent(user('alice'))}&order=username&direction=desc`);
      expect(alice.body.items.map((m: Mapping) => m.credential.username)).to.deep.equal(['alice.sip', '205']);
      const search = await admin.get('/sipMappings?search=ALICE.S');
      expect(search.body.items.map((m: Mapping) => m.id)).to.deep.equal([ids.mAlice]);
      const page = await admin.get('/sipMappings?limit=1&offset=1');
      expect(page.body.total).to.equal(3);
      expect(page.body.items.map((m: Mapping) => m.credential.username)).to.deep.equal(['205']);
      expect((await admin.get(`/sipMappings?owner=${encodeURIComponent(user('bob'))}`)).body).to.deep.equal({ total: 0, items: [] });
    });

    it('lets a user read only the mappings it owns; creating, changing and deleting are admin-only', async () => {
      const bobs = await admin.post('/sipMappings', { ownerUri: user('bob'), credential: { username: '207', password: 'sip-pass-207' } });
      expect(bobs.status).to.equal(201);
      ids.m207 = bobs.body.id;
      const list = await bob.get('/sipMappings');
      expect(list.status).to.equal(200);
      expect(list.body).to.deep.equal({ total: 1, items: [bobs.body] });
      expect((await bob.get(`/sipMappings?owner=${encodeURIComponent(user('bob'))}`)).body.total).to.equal(1);
      expect((await bob.get(`/sipMappings?owner=${encodeURIComponent(user('alice'))}`)).status).to.equal(403);
      expect((await bob.get(`/sipMappings/${bobs.body.id}`)).body).to.deep.equal(bobs.body);
      expect((await bob.get(`/sipMappings/${ids.m205}`)).status).to.equal(404);

      const before = await allMappings();
      expect((await bob.post('/sipMappings', { ownerUri: user('bob'), credential: { username: '208' } })).status).to.equal(403);
      expect((await bob.put(`/sipMappings/${bobs.body.id}`, { credential: { username: '209', password: 'x' } })).status).to.equal(403);
      expect((await bob.del(`/sipMappings/${bobs.body.id}`)).status).to.equal(403);
      expect(await allMappings()).to.deep.equal(before);
    });

    it('refuses anonymous callers with 403 and missing or wrong tokens with 401', async () => {
      const before = await allMappings();
      const body = { ownerUri: user('anon'), credential: { username: '500' } };
      for (const r of [
        await anon.get('/sipMappings'),
        await anon.get(`/sipMappings/${ids.m205}`),
        await anon.post('/sipMappings', body),
        await anon.put(`/sipMappings/${ids.m205}`, body),
        await anon.del(`/sipMappings/${ids.m205}`),
      ]) expect(r.status).to.equal(403);
      for (const token of [null, 'not-a-jwt']) {
        for (const r of [
          await admin.get('/sipMappings', { token }),
          await admin.get(`/sipMappings/${ids.m205}`, { token }),
          await admin.post('/sipMappings', body, { token }),
          await admin.put(`/sipMappings/${ids.m205}`, body, { token }),
          await admin.del(`/sipMappings/${ids.m205}`, { token }),
        ]) expect(r.status).to.equal(401);
      }
      expect(await allMappings()).to.deep.equal(before);
    });

    it('changes the owner and the SIP identity atomically, moving the indexes', async () => {
      const r = await admin.put(`/sipMappings/${ids.m205}`, { ownerUri: user('bob'), credential: { username: '206', password: 'sip-pass-206' } });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body).to.include({ id: ids.m205, ownerUri: user('bob') });
      expect(r.body.credential).to.deep.equal({ username: '206' });
      expect((await admin.get(`/sipMappings/${ids.m205}`)).body).to.deep.equal(r.body);
      expect(await model.findByUsername('205')).to.equal(null);
      expect((await model.findByUsername('206'))!.id).to.equal(ids.m205);
      expect(await model.digestHa1('206')).to.equal(digestHa1('206', srv.domain, 'sip-pass-206'));
      expect((await model.byOwner(user('alice'))).map((m) => m.id)).to.deep.equal([ids.mAlice]);
      expect((await model.byOwner(user('bob'))).map((m) => m.id).sort()).to.deep.equal([ids.m205, ids.m207].sort());
      // The old username is free again.
      const reuse = await admin.post('/sipMappings', { ownerUri: user('alice'), credential: { username: '205' } });
      expect(reuse.status).to.equal(201);
      expect((await admin.del(`/sipMappings/${reuse.body.id}`)).status).to.equal(204);

      // Owner only, then password only.
      const back = await admin.put(`/sipMappings/${ids.m205}`, { ownerUri: user('alice') });
      expect(back.status).to.equal(200);
      expect(back.body.credential.username).to.equal('206');
      expect(await model.digestHa1('206')).to.equal(digestHa1('206', srv.domain, 'sip-pass-206'));
      const nopw = await admin.put(`/sipMappings/${ids.m205}`, { credential: { password: '' } });
      expect(nopw.status).to.equal(200);
      expect(await model.digestHa1('206')).to.equal(null);
      expect((await admin.put(`/sipMappings/${ids.m205}`, { credential: { password: 'sip-pass-206' } })).status).to.equal(200);
      expect(await model.digestHa1('206')).to.equal(digestHa1('206', srv.domain, 'sip-pass-206'));
    });

    it('refuses bad updates (409 taken username, 404 unknown owner or mapping, 400 bad body) leaving data untouched', async () => {
      const before = await allMappings();
      const cases: Array<[string, unknown, number, string]> = [
        [ids.m205, { credential: { username: '207', password: 'x' } }, 409, 'SIP username 207 is already mapped'],
        [ids.m205, { ownerUri: 'wac-user:ghost' }, 404, 'wac-user:ghost'],
        [ids.m205, { ownerUri: 'wac-group:ghost', credential: { username: '299', password: 'x' } }, 404, 'wac-group:ghost'],
        ['no-such-mapping', { ownerUri: user('bob') }, 404, 'no-such-mapping'],
        [ids.m205, {}, 400, 'ownerUri'],
        [ids.m205, { ownerUri: 'user:1' }, 400, 'ownerUri'],
        [ids.m205, { credential: { username: 'a:b' } }, 400, 'credential.username'],
        [ids.m205, { credential: { username: '299' } }, 400, 'credential.password'],
        [ids.m205, { credential: { secret: 'x' } }, 400, 'secret'],
        [ids.m205, { id: 'x' }, 400, 'id'],
      ];
      for (const [id, body, status, text] of cases) {
        const r = await admin.put(`/sipMappings/${id}`, body);
        expect(r.status, JSON.stringify(body)).to.equal(status);
        expect(JSON.stringify(r.body.error), JSON.stringify(body)).to.contain(text);
      }
      expect(await allMappings()).to.deep.equal(before);
      expect((await model.findByUsername('206'))!.id).to.equal(ids.m205);
      expect(await model.findByUsername('299')).to.equal(null);
      expect(await model.digestHa1('206')).to.equal(digestHa1('206', srv.domain, 'sip-pass-206'));
    });

    it('deletes a mapping (204), freeing its SIP username', async () => {
      expect((await admin.del(`/sipMappings/${ids.m207}`)).status).to.equal(204);
      expect((await admin.get(`/sipMappings/${ids.m207}`)).status).to.equal(404);
      expect((await admin.del(`/sipMappings/${ids.m207}`)).status).to.equal(404);
      expect(await model.findByUsername('207')).to.equal(null);
      expect((await admin.get(`/sipMappings?owner=${encodeURIComponent(user('bob'))}`)).body.total).to.equal(0);
      const again = await admin.post('/sipMappings', { ownerUri: user('bob'), credential: { username: '207' } });
      expect(again.status).to.equal(201);
      ids.m207 = again.body.id;
    });

    it('deleting a user removes its mappings (username reusable) while its credentials stay', async () => {
      const dave = await newUser('dave', 'dave-pass');
      const m = await admin.post('/sipMappings', { ownerUri: `wac-user:${dave}`, credential: { username: '300', password: 'x300' } });
      expect(m.status).to.equal(201);
      const m2 = await admin.post('/sipMappings', { ownerUri: `wac-user:${dave}`, credential: { username: '301' } });
      expect(m2.status).to.equal(201);
      const creds = (await admin.get(`/credentials?user=${dave}`)).body;
      expect(creds.total).to.equal(1);

      expect((await admin.del(`/users/${dave}`)).status).to.equal(204);
      expect((await admin.get(`/sipMappings?owner=wac-user:${dave}`)).body).to.deep.equal({ total: 0, items: [] });
      expect((await admin.get(`/sipMappings/${m.body.id}`)).status).to.equal(404);
      expect(await model.findByUsername('300')).to.equal(null);
      expect(await model.digestHa1('300')).to.equal(null);
      expect((await allMappings()).items.map((x: Mapping) => x.id)).to.not.include.members([m.body.id, m2.body.id]);
      expect((await admin.get(`/credentials?user=${dave}`)).body).to.deep.equal(creds);
      // The deleted user can own nothing new; its SIP usernames are free for others.
      expect((await admin.post('/sipMappings', { ownerUri: `wac-user:${dave}`, credential: { username: '302' } })).status).to.equal(404);
      for (const username of ['300', '301']) {
        expect((await admin.post('/sipMappings', { ownerUri: user('alice'), credential: { username } })).status).to.equal(201);
      }
    });

    it('is described in the OpenAPI document', async () => {
      const doc = await admin.get('/openapi.json');
      expect(doc.body.paths['/sapi/sipMappings']).to.have.keys('get', 'post');
      expect(doc.body.paths['/sapi/sipMappings/{id}']).to.have.keys('get', 'put', 'delete');
    });

    it('never returned a SIP password or HA1 in any response', () => {
      expect(seen.length).to.be.greaterThan(50);
      const all = seen.join('\n');
      for (const s of secrets) expect(all, s).to.not.contain(s);
      for (const h of ['205', '206', '207'].map((u) => digestHa1(u, 'wac.local', `sip-pass-${u}`))) expect(all).to.not.contain(h);
      for (const s of ['"password"', '"ha1"', 'x300']) expect(all, s).to.not.contain(s);
    });
  });
}
