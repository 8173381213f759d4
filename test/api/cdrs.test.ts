import { expect } from 'chai';
import { ApiClient, adminClient, userClient } from '../support/api';
import { createJsSipUa, stopAllJsSipUas } from '../support/jssip';
import { startTestServer, TestServer } from '../support/server';

describe('/sapi/cdrs from real JsSIP calls', function () {
  let srv: TestServer;
  let admin: ApiClient;
  const ids: Record<string, string> = {};
  const clients: Record<string, ApiClient> = {};

  before(async () => {
    srv = await startTestServer();
    admin = await adminClient(srv);
    for (const name of ['ann', 'ben', 'cat']) {
      const { client, id } = await userClient(srv, name, `pw-${name}`);
      ids[name] = id;
      clients[name] = client;
    }
    const ann = await createJsSipUa({ server: srv, username: 'ann', password: 'pw-ann' });
    const ben = await createJsSipUa({ server: srv, username: 'ben', password: 'pw-ben' });
    // answered: ann → ben, ben hangs up
    const c1 = ann.call('ben');
    const in1 = await ben.nextIncoming();
    await in1.answer();
    await c1.confirmed();
    in1.terminate();
    await c1.ended();
    // busy: ben → ann, ann rejects 486
    const c2 = ben.call('ann');
    (await ann.nextIncoming()).reject(486);
    await c2.failed();
    // cancelled: ann → ben, ann cancels while ringing
    const c3 = ann.call('ben');
    await ben.nextIncoming();
    await c3.progress();
    c3.terminate();
    await c3.failed();
    // unanswerable: ann → cat (no device)
    await ann.call('cat').failed();
    // The record of each call is written as it ends.
    for (let i = 0; i < 50 && (await admin.get('/cdrs')).body.total < 4; i++) await new Promise((r) => setTimeout(r, 50));
  });
  after(async () => {
    await stopAllJsSipUas();
    await srv.close();
  });

  it('records every call with caller, callee, answered-by, times, result and code', async () => {
    const r = await admin.get('/cdrs?order=start');
    expect(r.status).to.equal(200);
    expect(r.body.total).to.equal(4);
    const [answered, busy, cancelled, unavailable] = r.body.items;
    expect(answered).to.include({ kind: 'direct', caller: ids.ann, callee: ids.ben, answeredBy: ids.ben, result: 'answered', code: 200 });
    expect(Date.parse(answered.answer)).to.be.at.least(Date.parse(answered.start));
    expect(Date.parse(answered.end)).to.be.at.least(Date.parse(answered.answer));
    expect(busy).to.include({ caller: ids.ben, callee: ids.ann, answeredBy: null, result: 'busy', code: 486, duration: 0 });
    expect(cancelled).to.include({ caller: ids.ann, callee: ids.ben, result: 'cancelled', code: 487 });
    expect(unavailable).to.include({ callee: ids.cat, result: 'no-answer', code: 480 });
  });

  it('filters by user, result and time range; a user sees only its own calls', async () => {
    expect((await admin.get(`/cdrs?user=${ids.cat}`)).body.total).to.equal(1);
    expect((await admin.get('/cdrs?result=busy')).body.items.map((c: { code: number }) => c.code)).to.deep.equal([486]);
    expect((await admin.get(`/cdrs?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body.total).to.equal(0);
    expect((await admin.get(`/cdrs?to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body.total).to.equal(4);
    expect((await clients.ben.get('/cdrs')).body.total).to.equal(3);
    expect((await clients.cat.get('/cdrs')).body.total).to.equal(1);
    expect((await clients.cat.get(`/cdrs?user=${ids.ann}`)).status).to.equal(403);
  });

  it('refuses bad filters with 400 naming the field, and anonymous with 403', async () => {
    const bad = await admin.get('/cdrs?from=yesterday');
    expect(bad.status).to.equal(400);
    expect(bad.body.error.message).to.match(/^from: /);
    expect((await admin.get('/cdrs?result=won')).status).to.equal(400);
    const { client: anon } = await userClient(srv, 'nobody', 'pw-n', 'anonymous');
    expect((await anon.get('/cdrs')).status).to.equal(403);
  });
});
