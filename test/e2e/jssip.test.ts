/**
 * End-to-end: real JsSIP 3.13 user agents (over WebSocket, sub-protocol 'sip') against the
 * registrar + forking proxy.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server';
import {
  createJsSipUa,
  createJsSipUaNoWait,
  rawHeader,
  sleep,
  startLine,
  stopAllJsSipUas,
  waitUntil,
  wireMatching,
} from '../support/jssip';

describe('e2e: JsSIP', function () {
  this.timeout(20000);
  let server: TestServer;

  const newUser = (prefix: string) => server.freshUser(prefix);

  before(async () => {
    // A short min_expires so the refresh test can use JsSIP's minimum of 10 s.
    server = await startTestServer({ ini: '[registrar]\nmin_expires = 5\n' });
  });
  after(async () => {
    await server?.close();
  });
  afterEach(async () => {
    await stopAllJsSipUas();
  });

  describe('registration', () => {
    it('registers and the 200 OK lists the binding with expires', async () => {
      const alice = await newUser('alice');
      const ua = await createJsSipUa({ server, ...alice });
      expect(ua.isRegistered()).to.equal(true);
      expect(await server.bindings(alice.username)).to.equal(1);
      const ok = wireMatching(ua.wire, 'in', /^SIP\/2\.0 200/).at(-1)!;
      expect(rawHeader(ok.text, 'CSeq')).to.match(/REGISTER$/);
      expect(rawHeader(ok.text, 'Contact', 'm')).to.match(/;expires=\d+/);
      // The first REGISTER was challenged (401), the second carried credentials.
      expect(wireMatching(ua.wire, 'in', /^SIP\/2\.0 401/)).to.have.length(1);
    });

    it('refreshes the registration before it expires and keeps one binding', async function () {
      this.timeout(30000);
      const alice = await newUser('alice');
      // JsSIP refreshes at expires - 5 s when expires <= 64; its minimum is 10.
      const ua = await createJsSipUa({ server, ...alice, registerExpires: 10 });
      const t0 = Date.now();
      expect(await server.bindings(alice.username)).to.equal(1);
      await ua.registerOks(2, 9000); // the refresh's 200 OK
      const refreshOk = wireMatching(ua.wire, 'in', /^SIP\/2\.0 200/).at(-1)!;
      expect(rawHeader(refreshOk.text, 'Contact', 'm')).to.match(/;expires=10\b/);
      expect(await server.bindings(alice.username)).to.equal(1);
      // Past the first registration's expiry: still registered, still exactly one binding.
      await sleep(Math.max(0, 11000 - (Date.now() - t0)));
      expect(ua.isRegistered()).to.equal(true);
      expect(await server.bindings(alice.username)).to.equal(1);
    });

    it('unregisters: the binding goes away', async () => {
      const alice = await newUser('alice');
      const ua = await createJsSipUa({ server, ...alice });
      expect(await server.bindings(alice.username)).to.equal(1);
      const r = await ua.unregister();
      expect(r.statusCode).to.equal(200);
      expect(ua.isRegistered()).to.equal(false);
      expect(await server.bindings(alice.username)).to.equal(0);
    });

    it('a wrong password fails with 401/403 and creates no binding', async () => {
      const alice = await newUser('alice');
      const ua = await createJsSipUaNoWait({ server, username: alice.username, password: 'wrong' });
      const failure = await ua.registrationFailed();
      expect(failure.statusCode).to.be.oneOf([401, 403]);
      expect(ua.isRegistered()).to.equal(false);
      expect(await server.bindings(alice.username)).to.equal(0);
    });

    it('an abruptly closed WebSocket removes its binding at once', async () => {
      const alice = await newUser('alice');
      const ua = await createJsSipUa({ server, ...alice });
      expect(await server.bindings(alice.username)).to.equal(1);
      ua.kill(); // TCP connection dropped, no unREGISTER
      await waitUntil(async () => (await server.bindings(alice.username)) === 0, 1500, 'binding removed after WS close');
    });
  });

  describe('calls', () => {
    it('call answered: both sides confirmed, ACK reaches the callee, caller hangs up', async () => {
      const alice = await newUser('alice');
      const bob = await newUser('bob');
      const a = await createJsSipUa({ server, ...alice });
      const b = await createJsSipUa({ server, ...bob });

      const out = a.call(bob.username);
      const inc = await b.nextIncoming();
      expect(await out.progress()).to.equal(180);
      await inc.answer();
      await out.confirmed(); // 2xx received, ACK sent
      await inc.confirmed(); // ACK received
      expect(wireMatching(inc.wire(), 'in', /^ACK /)).to.have.length(1);
      expect(out.responses).to.include(200);

      out.terminate(); // BYE
      const endA = await out.ended();
      const endB = await inc.ended();
      expect(endA).to.include({ originator: 'local', cause: 'Terminated' });
      expect(endB).to.include({ originator: 'remote', cause: 'Terminated', method: 'BYE' });
      // The caller got the 200 for its BYE.
      await waitUntil(() => out.wire().some((w) => w.dir === 'in' && /^SIP\/2\.0 200/.test(startLine(w.text)) && /BYE$/.test(rawHeader(w.text, 'CSeq') ?? '')), 3000, '200 OK to BYE');
    });

    it('call answered, callee hangs up (BYE from the callee side)', async () => {
      const alice = await newUser('alice');
      const bob = await newUser('bob');
      const a = await createJsSipUa({ server, ...alice });
      const b = await createJsSipUa({ server, ...bob });

      const out = a.call(bob.username);
      const inc = await b.nextIncoming();
      await inc.answer();
      await out.confirmed();
      await inc.confirmed();

      inc.terminate(); // BYE from the callee
      expect(await inc.ended()).to.include({ originator: 'local', cause: 'Terminated' });
      expect(await out.ended()).to.include({ originator: 'remote', cause: 'Terminated', method: 'BYE' });
      await waitUntil(() => inc.wire().some((w) => w.dir === 'in' && /^SIP\/2\.0 200/.test(startLine(w.text)) && /BYE$/.test(rawHeader(w.text, 'CSeq') ?? '')), 3000, '200 OK to BYE at the callee');
    });

    it('two devices ring; one answers, the other is CANCELled with "Call completed elsewhere"', async () => {
      const alice = await newUser('alice');
      const bob = await newUser('bob');
      const a = await createJsSipUa({ server, ...alice });
      const b1 = await createJsSipUa({ server, ...bob, label: 'bob-desk' });
      const b2 = await createJsSipUa({ server, ...bob, label: 'bob-phone' });
      expect(await server.bindings(bob.username)).to.equal(2);

      const out = a.call(bob.username);
      const [in1, in2] = await Promise.all([b1.nextIncoming(), b2.nextIncoming()]);
      await out.progress();
      await in1.answer();
      await out.confirmed();
      await in1.confirmed();

      const end2 = await in2.failed();
      expect(end2.originator).to.equal('remote');
      expect(end2.cause).to.equal('Canceled');
      expect(end2.method).to.equal('CANCEL');
      expect(end2.reasonHeader, 'Reason header of the CANCEL').to.be.a('string');
      expect(end2.reasonHeader).to.match(/cause\s*=\s*200/);
      expect(end2.reasonHeader).to.include('Call completed elsewhere');
      // The losing device answered 487 to the INVITE and 200 to the CANCEL.
      expect(wireMatching(in2.wire(), 'out', /^SIP\/2\.0 487/)).to.have.length(1);
      // The caller only ever saw one 2xx and stays in the call with device 1.
      expect(out.responses.filter((c) => c >= 200 && c < 300)).to.have.length(1);
      expect(out.isEstablished()).to.equal(true);

      out.terminate();
      await in1.ended();
    });

    it('caller cancels while ringing: callee sees the CANCEL, caller fails with Canceled', async () => {
      const alice = await newUser('alice');
      const bob = await newUser('bob');
      const a = await createJsSipUa({ server, ...alice });
      const b = await createJsSipUa({ server, ...bob });

      const out = a.call(bob.username);
      const inc = await b.nextIncoming();
      expect(await out.progress()).to.equal(180);
      out.terminate(); // CANCEL
      const endA = await out.failed();
      expect(endA).to.include({ originator: 'local', cause: 'Canceled' });
      const endB = await inc.failed();
      expect(endB).to.include({ originator: 'remote', cause: 'Canceled', method: 'CANCEL' });
      // The caller's INVITE is completed with 487 through the proxy.
      await waitUntil(() => wireMatching(out.wire(), 'in', /^SIP\/2\.0 487/).length === 1, 3000, '487 at the caller');
    });

    it('callee rejects with 486: caller fails with Busy', async () => {
      const alice = await newUser('alice');
      const bob = await newUser('bob');
      const a = await createJsSipUa({ server, ...alice });
      const b = await createJsSipUa({ server, ...bob });

      const out = a.call(bob.username);
      const inc = await b.nextIncoming();
      inc.reject(486);
      const end = await out.failed();
      expect(end).to.include({ originator: 'remote', cause: 'Busy', statusCode: 486 });
      expect(await inc.failed()).to.include({ originator: 'local', cause: 'Rejected' });
    });

    it('call to an unknown user: 404 Not Found', async () => {
      const alice = await newUser('alice');
      const a = await createJsSipUa({ server, ...alice });
      const out = a.call('nobody-here');
      const end = await out.failed();
      expect(end).to.include({ originator: 'remote', cause: 'Not Found', statusCode: 404 });
    });

    it('call to a known user with no registered device: 480', async () => {
      const alice = await newUser('alice');
      const carol = await newUser('carol');
      const a = await createJsSipUa({ server, ...alice });
      expect(await server.bindings(carol.username)).to.equal(0);
      const out = a.call(carol.username);
      const end = await out.failed();
      expect(end).to.include({ originator: 'remote', cause: 'Unavailable', statusCode: 480 });
    });
  });
});
