import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { keys } from '../../shared/store/keys';
import { ApiClient, adminClient, userClient } from '../support/api';
import { ADMIN_PASSWORD, BACKENDS, startServerOn, TestServer } from '../support/server';

for (const backend of BACKENDS) {
  describe(`admin API auth (${backend})`, function () {
    let srv: TestServer;
    let anon: ApiClient;
    before(async function () {
      srv = await startServerOn(backend, this);
      anon = new ApiClient(srv.adminUrl);
    });
    after(async () => {
      await srv?.close();
    });

    it('creates the first admin from wac.ini and issues tokens by password grant (JSON and form)', async () => {
      for (const form of [false, true]) {
        const r = await anon.post('/token', { grant_type: 'password', username: 'admin', password: ADMIN_PASSWORD }, { form });
        expect(r.status).to.equal(200);
        expect(r.body).to.include({ token_type: 'Bearer', expires_in: 3600 });
        expect(r.body.access_token).to.be.a('string');
        expect(r.body.refresh_token).to.be.a('string');
        expect(jwt.decode(r.body.access_token, { complete: true })!.header.alg).to.equal('HS256');
      }
    });

    it('refuses a wrong password and an unknown user alike with 401', async () => {
      const a = await anon.post('/token', { grant_type: 'password', username: 'admin', password: 'nope' });
      const b = await anon.post('/token', { grant_type: 'password', username: 'ghost', password: 'nope' });
      expect(a.status).to.equal(401);
      expect(b.status).to.equal(401);
      expect(a.body).to.deep.equal(b.body);
      expect(a.body.error.code).to.equal('invalid_grant');
    });

    it('answers 400 naming the field for a malformed token request', async () => {
      const r = await anon.post('/token', { grant_type: 'password', username: 'admin' });
      expect(r.status).to.equal(400);
      expect(r.body.error.message).to.match(/^password: /);
      const g = await anon.post('/token', { grant_type: 'client_credentials' });
      expect(g.status).to.equal(400);
      expect(g.body.error.message).to.match(/grant_type/);
      const bad = await anon.post('/token', undefined, { raw: '{"grant_type":' });
      expect(bad.status).to.equal(400);
      expect(bad.body.error.code).to.equal('invalid_json');
    });

    it('renews with the refresh_token grant and refuses an access token used as refresh token', async () => {
      const r = await anon.post('/token', { grant_type: 'password', username: 'admin', password: ADMIN_PASSWORD });
      const renewed = await anon.post('/token', { grant_type: 'refresh_token', refresh_token: r.body.refresh_token });
      expect(renewed.status).to.equal(200);
      expect((await anon.get('/users/me', { token: renewed.body.access_token })).status).to.equal(200);
      const misuse = await anon.post('/token', { grant_type: 'refresh_token', refresh_token: r.body.access_token });
      expect(misuse.status).to.equal(401);
      expect((await anon.get('/users/me', { token: r.body.refresh_token })).status).to.equal(401);
    });

    it('answers 401 without a token, with a forged one, with alg none, and with an expired one', async () => {
      expect((await anon.get('/users')).status).to.equal(401);
      expect((await anon.get('/users', { token: 'not.a.jwt' })).status).to.equal(401);
      const admin = (await srv.users.findByName('wac.local', 'admin'))!;
      const claims = { sub: admin.id, role: 'admin', domain: 'wac.local', username: 'admin', typ: 'access' };
      const none = jwt.sign(claims, '', { algorithm: 'none' });
      expect((await anon.get('/users', { token: none })).status).to.equal(401);
      expect((await anon.get('/users', { token: jwt.sign(claims, 'wrong-secret', { algorithm: 'HS256' }) })).status).to.equal(401);
      const secret = (await srv.wac.store.get(keys.jwtSecret()))!;
      const hs512 = jwt.sign(claims, secret, { algorithm: 'HS512' });
      expect((await anon.get('/users', { token: hs512 })).status).to.equal(401);
      const expired = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 }, secret, { algorithm: 'HS256' });
      expect((await anon.get('/users', { token: expired })).status).to.equal(401);
      const good = jwt.sign(claims, secret, { algorithm: 'HS256', expiresIn: 60 });
      expect((await anon.get('/users', { token: good })).status).to.equal(200);
    });

    it('answers 403 for the right token with the wrong role, and JSON 404 for an unknown route', async () => {
      const { client: user } = await userClient(srv, `u-${backend}`, 'pw-user');
      const r = await user.get('/users');
      expect(r.status).to.equal(403);
      expect(r.body.error.code).to.equal('forbidden');
      const admin = await adminClient(srv);
      const nf = await admin.get('/nothing-here');
      expect(nf.status).to.equal(404);
      expect(nf.body.error.code).to.equal('not_found');
    });

    it('serves the OpenAPI document of every route', async () => {
      const r = await anon.get('/openapi.json', { token: null });
      expect(r.status).to.equal(200);
      expect(r.body.openapi).to.match(/^3\./);
      expect(r.body.paths['/sapi/token'].post.requestBody).to.not.equal(undefined);
      expect(r.body.paths['/sapi/users/{id}']).to.have.keys('get', 'put', 'delete');
    });
  });
}
