/**
 * End-to-end: DND and call forwards on users (issue 5), set through PUT /sapi/users/:id (by the user
 * itself or an admin) and applied to direct calls: DND → 486 (or the busy forward); unconditional →
 * the destination rings instead; busy (the callee rejects 486) → the destination; no answer within
 * `timeout` seconds, or no device registered → the destination; a group id as destination rings the
 * group; a forward loop ends with a final response. Real JsSIP 3.13 and SIP.js 0.21 user agents.
 */
import { expect } from 'chai';
import { Cdrs, type Cdr } from '../../shared/model/cdrs';
import { ApiClient, newAccount, type Account } from '../support/api';
import { createJsSipUa, sleep, waitUntil, wireMatching, type JsSipUa } from '../support/jssip';
import type { TestServer } from '../support/server';
import { clientSuite } from '../support/suite';
import { createSipJsUa } from '../support/sipjs';


describe('e2e: DND and call forwards', function () {
  this.timeout(30000);
  let srv: TestServer;
  let api: ApiClient;

  const newUser = (prefix: string) => newAccount(api, prefix);

  /** PUT /sapi/users/:id as the user itself (self) or as the admin. */
  async function setUser(who: Account, body: unknown, as: 'self' | 'admin' = 'admin'): Promise<void> {
    const client = as === 'admin' ? api : await new ApiClient(srv.adminUrl).login(who.username, who.password);
    const r = await client.put(`/users/${who.id}`, body);
    expect(r.status, `PUT /users/${who.username} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`).to.equal(200);
  }

  async function cdrFor(callId: string): Promise<Cdr> {
    let found: Cdr | undefined;
    await waitUntil(async () => {
      found = (await new Cdrs(srv.wac.store).list()).find((c) => c.callId === callId);
      return !!found;
    }, 3000, `the call detail record of ${callId}`);
    return found!;
  }

  clientSuite((suite) => ({ srv, api } = suite));

  it('the forwards are set by the user itself or an admin, and stored on the user; another user may not', async () => {
    const [b, c] = await Promise.all([newUser('b'), newUser('c')]);
    await setUser(b, { forwards: { noanswer: { enabled: true, destination: c.username, timeout: 5 } } }, 'self');
    const got = await api.get(`/users/${b.id}`);
    expect(got.body.forwards).to.deep.equal({ noanswer: { enabled: true, destination: c.username, timeout: 5 } });
    await setUser(b, { dnd: true }, 'admin');
    expect((await api.get(`/users/${b.id}`)).body.dnd).to.equal(true);
    const asC = await new ApiClient(srv.adminUrl).login(c.username, c.password);
    expect((await asC.put(`/users/${b.id}`, { dnd: false })).status).to.equal(403);
  });

  it('DND: a direct call is refused with 486 and the callee does not ring', async () => {
    const [a, b] = await Promise.all([newUser('a'), newUser('b')]);
    await setUser(b, { dnd: true }, 'self');
    const bUa = await createJsSipUa({ server: srv, ...b });
    const aUa = await createJsSipUa({ server: srv, ...a });
    const out = aUa.call(b.username);
    const end = await out.failed();
    expect(end.statusCode).to.equal(486);
    await sleep(200);
    expect(bUa.incomingSessions).to.have.length(0);
    const cdr = await cdrFor(out.callId);
    expect(cdr).to.include({ kind: 'direct', caller: a.id, callee: b.id, result: 'busy', code: 486, answeredBy: null });

    // DND off again: the call rings.
    await setUser(b, { dnd: false }, 'self');
    const out2 = aUa.call(b.username);
    const inc = await bUa.nextIncoming();
    expect(await out2.progress()).to.equal(180);
    inc.reject(486);
    expect((await out2.failed()).statusCode).to.equal(486);
  });

  it('DND with a busy forward: the busy forward\'s destination rings instead', async () => {
    const [a, b, c] = await Promise.all([newUser('a'), newUser('b'), newUser('c')]);
    await setUser(b, { dnd: true, forwards: { busy: { enabled: true, destination: c.username } } });
    const bUa = await createJsSipUa({ server: srv, ...b });
    const cUa = await createSipJsUa({ server: srv, ...c });
    const aUa = await createJsSipUa({ server: srv, ...a });
    const out = aUa.call(b.username);
    const inc = await cUa.nextIncoming();
    await inc.answer();
    await out.confirmed();
    expect(bUa.incomingSessions).to.have.length(0);
    await out.hangup();
  });

  it('unconditional: the destination rings instead of the callee; BYE works; the CDR says who answered', async () => {
    const [a, b, c] = await Promise.all([newUser('a'), newUser('b'), newUser('c')]);
    await setUser(b, { forwards: { unconditional: { enabled: true, destination: c.username } } }, 'self');
    const bUa = await createSipJsUa({ server: srv, ...b });
    const cUa = await createJsSipUa({ server: srv, ...c });
    const aUa = await createJsSipUa({ server: srv, ...a });

    const out = aUa.call(b.username);
    const inc = await cUa.nextIncoming();
    expect(inc.request.from.uri.user, 'the forwarded call is still from the caller').to.equal(a.username);
    expect(await out.progress()).to.equal(180);
    await inc.answer();
    await out.confirmed();
    await inc.confirmed();
    expect(bUa.sessions, 'the forwarding user must not ring').to.have.length(0);
    expect(wireMatching(bUa.wire, 'in', /^INVITE /)).to.have.length(0);
    out.terminate();
    await inc.ended();
    const cdr = await cdrFor(out.callId);
    expect(cdr).to.include({ caller: a.id, callee: b.id, answeredBy: c.id, result: 'answered', code: 200 });

    // Disabled: the callee rings again.
    await setUser(b, { forwards: { unconditional: { enabled: false, destination: c.username } } }, 'self');
    const out2 = aUa.call(b.username);
    const inc2 = await bUa.nextIncoming();
    await inc2.reject(486);
    expect((await out2.failed()).statusCode).to.equal(486);
    expect(cUa.incomingSessions).to.have.length(1);
  });

  it('busy: when the callee rejects with 486 the destination rings; the caller sees no failure and is connected to it', async () => {
    const [a, b, c] = await Promise.all([newUser('a'), newUser('b'), newUser('c')]);
    await setUser(b, { forwards: { busy: { enabled: true, destination: c.username } } });
    const bUa = await createJsSipUa({ server: srv, ...b });
    const cUa = await createSipJsUa({ server: srv, ...c });
    const aUa = await createJsSipUa({ server: srv, ...a });

    const out = aUa.call(b.username);
    const incB = await bUa.nextIncoming();
    await out.progress();
    expect(cUa.sessions, 'the busy destination rings only after the 486').to.have.length(0);
    incB.reject(486);
    const incC = await cUa.nextIncoming();
    expect(out.responses.filter((s) => s >= 300), 'the 486 is not passed to the caller').to.deep.equal([]);
    await incC.answer();
    await out.confirmed();
    await incC.ackReceived();
    expect(out.responses.filter((s) => s >= 300)).to.deep.equal([]);
    await out.hangup();
    await incC.byeReceivedP();
  });

  it('noanswer (timeout 1 s): the callee rings, is CANCELled after about 1 s, then the destination rings', async () => {
    const [a, b, c] = await Promise.all([newUser('a'), newUser('b'), newUser('c')]);
    await setUser(b, { forwards: { noanswer: { enabled: true, destination: c.username, timeout: 1 } } }, 'self');
    const bUa = await createJsSipUa({ server: srv, ...b });
    const cUa = await createJsSipUa({ server: srv, ...c });
    const aUa = await createSipJsUa({ server: srv, ...a });

    const t0 = Date.now();
    const out = aUa.call(b.username);
    const incB = await bUa.nextIncoming();
    const incC = await cUa.nextIncoming(4000);
    const rangAfter = Date.now() - t0;
    expect(rangAfter, 'the destination rang after the no-answer timeout').to.be.within(800, 3000);
    const endB = await incB.failed();
    expect(endB).to.include({ originator: 'remote', cause: 'Canceled', method: 'CANCEL' });
    expect(out.responses.filter((s) => s >= 300)).to.deep.equal([]);
    await incC.answer();
    await out.established();
    await incC.confirmed();
    await out.bye();
    await incC.ended();
  });

  it('noanswer with no device registered: the destination rings at once (not after the timeout)', async () => {
    const [a, b, c] = await Promise.all([newUser('a'), newUser('b'), newUser('c')]);
    await setUser(b, { forwards: { noanswer: { enabled: true, destination: c.username, timeout: 10 } } });
    expect(await srv.bindings(b.username)).to.equal(0);
    const cUa = await createJsSipUa({ server: srv, ...c });
    const aUa = await createJsSipUa({ server: srv, ...a });
    const t0 = Date.now();
    const out = aUa.call(b.username);
    const inc = await cUa.nextIncoming(3000);
    expect(Date.now() - t0).to.be.below(1500);
    await inc.answer();
    await out.confirmed();
    out.terminate();
    await inc.ended();
  });

  it('noanswer with the default timeout (20 s) does not cut a call answered before it', async () => {
    const [a, b, c] = await Promise.all([newUser('a'), newUser('b'), newUser('c')]);
    await setUser(b, { forwards: { noanswer: { enabled: true, destination: c.username } } });
    const bUa = await createJsSipUa({ server: srv, ...b });
    const cUa = await createJsSipUa({ server: srv, ...c });
    const aUa = await createJsSipUa({ server: srv, ...a });
    const out = aUa.call(b.username);
    const inc = await bUa.nextIncoming();
    await sleep(1200);
    expect(cUa.incomingSessions).to.have.length(0);
    await inc.answer();
    await out.confirmed();
    out.terminate();
    await inc.ended();
  });

  it('a forward to a group id rings the group; the first answer connects and the others get "Call completed elsewhere"', async () => {
    const [a, b, g1, g2] = await Promise.all([newUser('a'), newUser('b'), newUser('g'), newUser('g')]);
    const grp = await api.post('/usersgroups', { name: 'support', participants: [g1.id, g2.id] });
    expect(grp.status).to.equal(201);
    const groupId: string = grp.body.id;
    await setUser(b, { forwards: { unconditional: { enabled: true, destination: groupId } } });
    const g1Ua = await createJsSipUa({ server: srv, ...g1 });
    const g2Ua = await createSipJsUa({ server: srv, ...g2 });
    const aUa = await createJsSipUa({ server: srv, ...a });
    const out = aUa.call(b.username);
    const [in1, in2] = await Promise.all([g1Ua.nextIncoming(), g2Ua.nextIncoming()]);
    await in1.answer();
    await out.confirmed();
    expect(await in2.cancelReceived()).to.equal('SIP ;cause=200 ;text="Call completed elsewhere"');
    out.terminate();
    await in1.ended();
    const cdr = await cdrFor(out.callId);
    expect(cdr).to.include({ answeredBy: g1.id, result: 'answered' });
  });

  it('a forward loop (x → y → x, nobody registered) ends with a final response, not a hang', async () => {
    const [a, x, y] = await Promise.all([newUser('a'), newUser('x'), newUser('y')]);
    await setUser(x, { forwards: { unconditional: { enabled: true, destination: y.username } } });
    await setUser(y, { forwards: { unconditional: { enabled: true, destination: x.username } } });
    const aUa = await createJsSipUa({ server: srv, ...a });
    const out = aUa.call(x.username);
    const end = await out.failed(5000);
    expect(end.statusCode).to.be.at.least(400);
    const cdr = await cdrFor(out.callId);
    expect(cdr.code).to.equal(end.statusCode);
  });

  it('a busy loop (x busy → y, y busy → x, both rejecting) ends with a final response to the caller', async () => {
    const [a, x, y] = await Promise.all([newUser('a'), newUser('x'), newUser('y')]);
    await setUser(x, { forwards: { busy: { enabled: true, destination: y.username } } });
    await setUser(y, { forwards: { busy: { enabled: true, destination: x.username } } });
    const xUa = await createJsSipUa({ server: srv, ...x });
    const yUa = await createJsSipUa({ server: srv, ...y });
    const autoReject = (ua: JsSipUa) => ua.ua.on('newRTCSession', (e: any) => {
      if (e.originator === 'remote') setTimeout(() => e.session.isEnded() || e.session.terminate({ status_code: 486 }), 20);
    });
    autoReject(xUa);
    autoReject(yUa);
    const aUa = await createJsSipUa({ server: srv, ...a });
    const out = aUa.call(x.username);
    const end = await out.failed(8000);
    expect(end.statusCode).to.equal(486);
    const rings = xUa.incomingSessions.length + yUa.incomingSessions.length;
    expect(rings, 'legs rung before the loop was cut').to.be.within(2, 8);
  });

  it('a loop through the caller (a → b, b → a): a call from a to b ends with a final response', async () => {
    const [a, b] = await Promise.all([newUser('a'), newUser('b')]);
    await setUser(a, { forwards: { unconditional: { enabled: true, destination: b.username } } });
    await setUser(b, { forwards: { unconditional: { enabled: true, destination: a.username } } });
    const aUa = await createJsSipUa({ server: srv, ...a });
    const out = aUa.call(b.username);
    const end = await out.failed(5000);
    expect(end.statusCode ?? 0, 'final response to the caller').to.be.at.least(400);
    expect(aUa.incomingSessions, 'the caller is never connected to its own call').to.have.length(0);
    const cdr = await cdrFor(out.callId);
    expect(cdr.code).to.equal(end.statusCode);
  });
});
