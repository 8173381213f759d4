/**
 * End-to-end: real SIP.js 0.21 user agents (UserAgent + Registerer + Inviter/Invitation, mock
 * SessionDescriptionHandler) against the registrar + forking proxy, plus SIP.js <-> JsSIP calls.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server';
import { createJsSipUa, rawHeader, startLine, stopAllJsSipUas, wireMatching } from '../support/jssip';
import { createSipJsUa, createSipJsUaNoWait, sleep, stopAllSipJsUas, waitUntil } from '../support/sipjs';

describe('e2e: SIP.js', function () {
  this.timeout(20000);
  let server: TestServer;

  const newUser = (prefix: string) => server.freshUser(prefix);

  before(async () => {
    server = await startTestServer({ ini: '[registrar]\nmin_expires = 2\n' });
  });
  after(async () => {
    await server?.close();
  });
  afterEach(async () => {
    await Promise.all([stopAllSipJsUas(), stopAllJsSipUas()]);
  });

  describe('registration', () => {
    it('registers (challenge, then 200 OK whose Contact carries expires)', async () => {
      const alice = await newUser('alice');
      const ua = await createSipJsUa({ server, ...alice });
      expect(ua.isRegistered()).to.equal(true);
      expect(await server.bindings(alice.username)).to.equal(1);
      expect(wireMatching(ua.wire, 'in', /^SIP\/2\.0 401/)).to.have.length(1);
      const ok = wireMatching(ua.wire, 'in', /^SIP\/2\.0 200/).at(-1)!;
      expect(rawHeader(ok.text, 'Contact', 'm')).to.match(/;expires=\d+/);
      expect(ua.logs.filter((l) => /dropping|does not match/i.test(l))).to.deep.equal([]);
    });

    it('refreshes the registration and keeps exactly one binding', async function () {
      this.timeout(20000);
      const alice = await newUser('alice');
      // expires 4 s, refresh at 50 % = every 2 s.
      const ua = await createSipJsUa({ server, ...alice, expires: 4, refreshFrequency: 50 });
      const t0 = Date.now();
      await waitUntil(() => ua.registerOkCount() >= 3, 8000, 'two refreshes (3 x 200 OK to REGISTER)');
      expect(await server.bindings(alice.username)).to.equal(1);
      // Past the first registration's expiry.
      await sleep(Math.max(0, 5000 - (Date.now() - t0)));
      expect(ua.isRegistered()).to.equal(true);
      expect(await server.bindings(alice.username)).to.equal(1);
      expect(ua.logs.filter((l) => /dropping/i.test(l))).to.deep.equal([]);
    });

    it('unregisters: the binding goes away', async () => {
      const alice = await newUser('alice');
      const ua = await createSipJsUa({ server, ...alice });
      expect(await server.bindings(alice.username)).to.equal(1);
      await ua.unregister();
      expect(await server.bindings(alice.username)).to.equal(0);
    });

    it('a wrong password fails with 401/403 and creates no binding', async () => {
      const alice = await newUser('alice');
      const ua = await createSipJsUaNoWait({ server, username: alice.username, password: 'wrong' });
      const failure = await ua.registrationFailed();
      expect(failure.statusCode).to.be.oneOf([401, 403]);
      expect(ua.isRegistered()).to.equal(false);
      expect(await server.bindings(alice.username)).to.equal(0);
    });

    it('registers with +sip.instance/reg-id (outbound) as well', async () => {
      const alice = await newUser('alice');
      const ua = await createSipJsUa({ server, ...alice, regId: 1, instanceId: '2a8b1c3e-6f4d-4e5a-9b7c-0d1e2f3a4b5c' });
      expect(await server.bindings(alice.username)).to.equal(1);
      const ok = wireMatching(ua.wire, 'in', /^SIP\/2\.0 200/).at(-1)!;
      expect(rawHeader(ok.text, 'Contact', 'm')).to.include('+sip.instance="<urn:uuid:2a8b1c3e-6f4d-4e5a-9b7c-0d1e2f3a4b5c>"');
    });

    it('an abruptly closed WebSocket removes its binding at once', async () => {
      const alice = await newUser('alice');
      const ua = await createSipJsUa({ server, ...alice });
      expect(await server.bindings(alice.username)).to.equal(1);
      ua.kill();
      await waitUntil(async () => (await server.bindings(alice.username)) === 0, 1500, 'binding removed after WS close');
    });
  });

  describe('calls', () => {
    it('call answered: established on both sides, ACK reaches the callee, caller hangs up', async () => {
      const alice = await newUser('alice');
      const bob = await newUser('bob');
      const a = await createSipJsUa({ server, ...alice });
      const b = await createSipJsUa({ server, ...bob });

      const out = a.call(bob.username);
      const inc = await b.nextIncoming();
      expect(await out.progress()).to.equal(180);
      await inc.answer();
      await out.established();
      await inc.ackReceived();
      expect(out.sdh?.state).to.equal('stable');
      expect(inc.sdh?.state).to.equal('stable');

      const end = await out.bye();
      expect(end.state).to.equal('Terminated');
      await inc.byeReceivedP();
      expect((await inc.terminated()).byeReceived).to.equal(true);
      await waitUntil(
        () => wireMatching(out.wire(), 'in', /^SIP\/2\.0 200/).some((w) => /BYE$/.test(rawHeader(w.text, 'CSeq') ?? '')),
        3000,
        '200 OK to BYE at the caller',
      );
    });

    it('callee hangs up (BYE from the callee side)', async () => {
      const alice = await newUser('alice');
      const bob = await newUser('bob');
      const a = await createSipJsUa({ server, ...alice });
      const b = await createSipJsUa({ server, ...bob });

      const out = a.call(bob.username);
      const inc = await b.nextIncoming();
      await inc.answer();
      await out.established();
      await inc.ackReceived();

      await inc.bye();
      await out.byeReceivedP();
      expect((await out.terminated()).byeReceived).to.equal(true);
    });

    it('two devices ring; one answers, the other gets CANCEL with "Call completed elsewhere"', async () => {
      const alice = await newUser('alice');
      const bob = await newUser('bob');
      const a = await createSipJsUa({ server, ...alice });
      const b1 = await createSipJsUa({ server, ...bob, label: 'bob-desk' });
      const b2 = await createSipJsUa({ server, ...bob, label: 'bob-phone' });
      expect(await server.bindings(bob.username)).to.equal(2);

      const out = a.call(bob.username);
      const [in1, in2] = await Promise.all([b1.nextIncoming(), b2.nextIncoming()]);
      await out.progress();
      await in1.answer();
      await out.established();
      await in1.ackReceived();

      const reason = await in2.cancelReceived();
      expect(reason, 'Reason header of the CANCEL').to.be.a('string');
      expect(reason).to.match(/^SIP\s*;\s*cause\s*=\s*200/);
      expect(reason).to.include('Call completed elsewhere');
      const end2 = await in2.terminated();
      expect(end2.canceled).to.equal(true);
      expect(wireMatching(in2.wire(), 'out', /^SIP\/2\.0 487/)).to.have.length(1);
      expect(out.responses.filter((c) => c >= 200 && c < 300)).to.have.length(1);
      expect(out.state).to.equal('Established');
      await out.bye();
    });

    it('caller cancels while ringing: callee sees the CANCEL, caller gets 487', async () => {
      const alice = await newUser('alice');
      const bob = await newUser('bob');
      const a = await createSipJsUa({ server, ...alice });
      const b = await createSipJsUa({ server, ...bob });

      const out = a.call(bob.username);
      const inc = await b.nextIncoming();
      await out.progress();
      await out.cancel();
      await inc.cancelReceived();
      expect((await inc.terminated()).canceled).to.equal(true);
      await out.terminated();
      await waitUntil(() => wireMatching(out.wire(), 'in', /^SIP\/2\.0 487/).length === 1, 3000, '487 at the caller');
    });

    it('callee rejects with 486: caller gets 486', async () => {
      const alice = await newUser('alice');
      const bob = await newUser('bob');
      const a = await createSipJsUa({ server, ...alice });
      const b = await createSipJsUa({ server, ...bob });

      const out = a.call(bob.username);
      const inc = await b.nextIncoming();
      await inc.reject(486);
      expect(await out.rejected()).to.equal(486);
      expect((await out.terminated()).statusCode).to.equal(486);
    });

    it('call to an unknown user: 404', async () => {
      const alice = await newUser('alice');
      const a = await createSipJsUa({ server, ...alice });
      const out = a.call('nobody-here');
      expect(await out.rejected()).to.equal(404);
      await out.terminated();
    });

    it('call to a known user with no registered device: 480', async () => {
      const alice = await newUser('alice');
      const carol = await newUser('carol');
      const a = await createSipJsUa({ server, ...alice });
      const out = a.call(carol.username);
      expect(await out.rejected()).to.equal(480);
      await out.terminated();
    });
  });

  describe('cross-client', () => {
    it('SIP.js calls JsSIP: answered, ACKed, BYE from SIP.js', async () => {
      const alice = await newUser('alice');
      const bob = await newUser('bob');
      const a = await createSipJsUa({ server, ...alice });
      const b = await createJsSipUa({ server, ...bob });

      const out = a.call(bob.username);
      const inc = await b.nextIncoming();
      expect(await out.progress()).to.equal(180);
      await inc.answer();
      await out.established();
      await inc.confirmed(); // JsSIP callee: ACK received
      expect(wireMatching(inc.wire(), 'in', /^ACK /)).to.have.length(1);

      await out.bye();
      expect(await inc.ended()).to.include({ originator: 'remote', method: 'BYE' });
    });

    it('JsSIP calls SIP.js: answered, ACKed, BYE from SIP.js', async () => {
      const alice = await newUser('alice');
      const bob = await newUser('bob');
      const a = await createJsSipUa({ server, ...alice });
      const b = await createSipJsUa({ server, ...bob });

      const out = a.call(bob.username);
      const inc = await b.nextIncoming();
      expect(await out.progress()).to.equal(180);
      await inc.answer();
      await out.confirmed();
      await inc.ackReceived();

      await inc.bye();
      expect(await out.ended()).to.include({ originator: 'remote', method: 'BYE' });
    });

    it('JsSIP calls a user with a JsSIP and a SIP.js device; SIP.js answers, JsSIP is cancelled', async () => {
      const alice = await newUser('alice');
      const bob = await newUser('bob');
      const a = await createJsSipUa({ server, ...alice });
      const bJs = await createJsSipUa({ server, ...bob });
      const bSip = await createSipJsUa({ server, ...bob });
      expect(await server.bindings(bob.username)).to.equal(2);

      const out = a.call(bob.username);
      const [inJs, inSip] = await Promise.all([bJs.nextIncoming(), bSip.nextIncoming()]);
      await out.progress();
      await inSip.answer();
      await out.confirmed();
      await inSip.ackReceived();
      const end = await inJs.failed();
      expect(end).to.include({ cause: 'Canceled', method: 'CANCEL' });
      expect(end.reasonHeader).to.include('Call completed elsewhere');
      out.terminate();
      await inSip.byeReceivedP();
      // Nothing but the one dialog at the caller.
      expect(wireMatching(out.wire(), 'in', /^SIP\/2\.0 200/).filter((w) => /INVITE$/.test(rawHeader(w.text, 'CSeq') ?? ''))).to.have.length(1);
      expect(startLine(wireMatching(out.wire(), 'out', /^ACK /)[0]!.text)).to.match(/^ACK sip:/);
    });
  });
});
