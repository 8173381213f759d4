import { expect } from 'chai';
import { ApiClient, adminClient } from '../support/api';
import { createJsSipUa, createJsSipUaNoWait, stopAllJsSipUas } from '../support/jssip';
import { startTestServer, TestServer } from '../support/server';

describe('SIP with a bearer JWT from the admin API (JsSIP authorization_jwt)', () => {
  let srv: TestServer;
  let admin: ApiClient;
  before(async () => {
    srv = await startTestServer();
    admin = await adminClient(srv);
    for (const u of ['jane', 'joe']) {
      expect((await admin.post('/users', { username: u, credentials: [{ type: 'basic', data: { password: `pw-${u}` } }] })).status).to.equal(201);
    }
  });
  afterEach(() => stopAllJsSipUas());
  after(() => srv.close());

  async function token(username: string): Promise<string> {
    const r = await new ApiClient(srv.adminUrl).post('/token', { grant_type: 'password', username, password: `pw-${username}` });
    return r.body.access_token;
  }

  it('registers and calls with Authorization: Bearer instead of digest', async () => {
    const jane = await createJsSipUa({ server: srv, username: 'jane', password: undefined as unknown as string,
      config: { password: undefined, authorization_jwt: `Bearer ${await token('jane')}` } });
    expect(await srv.bindings('jane')).to.equal(1);
    const joe = await createJsSipUa({ server: srv, username: 'joe', password: 'pw-joe' });
    const out = jane.call('joe');
    const inc = await joe.nextIncoming();
    inc.answer();
    await out.confirmed();
    out.terminate();
    await inc.ended();
  });

  it('refuses a bearer token of another user, a forged one, and a refresh token', async () => {
    const refresh = (await new ApiClient(srv.adminUrl).post('/token', { grant_type: 'password', username: 'jane', password: 'pw-jane' })).body.refresh_token;
    for (const jwt of [await token('joe'), 'eyJhbGciOiJub25lIn0.e30.', refresh]) {
      const ua = await createJsSipUaNoWait({ server: srv, username: 'jane', password: undefined as unknown as string,
        config: { password: undefined, authorization_jwt: `Bearer ${jwt}` } });
      const failed = await ua.registrationFailed();
      expect([401, 403]).to.include(failed.statusCode);
      await ua.stop();
    }
    expect(await srv.bindings('jane')).to.equal(0);
  });
});
