import { expect } from 'chai';
import v8 from 'node:v8';
import vm from 'node:vm';
import { SipMappings } from '../../shared/model/sip-mappings';
import { Proxy } from '../../signaling/proxy/proxy';
import { SipRequest, SipResponse } from '../../signaling/sip/message';
import { ClientTransaction } from '../../signaling/transaction/client';
import { ServerTransaction } from '../../signaling/transaction/server';
import { TransactionLayer } from '../../signaling/transaction/table';
import { startTestServer, TestServer } from '../support/server';
import { digestAnswer, rnd, UdpPeer } from '../support/udp-peer';

/** A response to `req` from a UDP peer acting as UAS, echoing its Via/From/To/Call-ID/CSeq. */
function reply(req: SipRequest, status: string, toTag: string | null, extra: string[] = []): string {
  const lines = [`SIP/2.0 ${status}`];
  for (const h of req.headers) {
    if (h.key === 'to') lines.push(`To: ${h.value}${toTag && !req.toTag ? `;tag=${toTag}` : ''}`);
    else if (['via', 'from', 'call-id', 'cseq', 'record-route'].includes(h.key)) lines.push(`${h.name}: ${h.value}`);
  }
  return [...lines, ...extra, 'Content-Length: 0', '', ''].join('\r\n');
}

/** The names of the watched objects still alive after a few full collections. */
async function survivors(watched: Map<string, WeakRef<object>>): Promise<string[]> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  let alive: string[] = [];
  for (let round = 0; round < 5; round++) {
    // A WeakRef's target stays alive until the end of the job that created or read it.
    await new Promise((r) => setImmediate(r));
    gc();
    alive = [...watched].filter(([, ref]) => ref.deref() !== undefined).map(([name]) => name);
    if (alive.length === 0) break;
  }
  return alive;
}

// The server and the caller of the suite running: each suite starts its own in `before`.
let srv: TestServer;
let alice: UdpPeer;

async function registerPeer(peer: UdpPeer, user: string) {
  const msg = (cseq: number, auth?: string) => [
    'REGISTER sip:wac.local SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};rport;branch=z9hG4bK${rnd()}`,
    'Max-Forwards: 70', `From: <sip:${user}@wac.local>;tag=${rnd()}`, `To: <sip:${user}@wac.local>`, `Call-ID: reg-${peer.port}`,
    `CSeq: ${cseq} REGISTER`, `Contact: <sip:${user}@127.0.0.1:${peer.port}>`, ...(auth ? [`Authorization: ${auth}`] : []),
    'Content-Length: 0', '', ''].join('\r\n');
  peer.send(msg(1), srv.sipPort);
  const ch = await peer.response();
  peer.send(msg(2, digestAnswer(ch.get('www-authenticate')!, user, `pw-${user}`, 'REGISTER', 'sip:wac.local')), srv.sipPort);
  expect((await peer.response()).status).to.equal(200);
}

function invite(to: string, o: { cseq: number; callId: string; branch?: string; auth?: string; mf?: number }): string {
  return [
    `INVITE sip:${to}@wac.local SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${alice.port};rport;branch=${o.branch ?? `z9hG4bK${rnd()}`}`,
    `Max-Forwards: ${o.mf ?? 70}`, 'From: <sip:alice@wac.local>;tag=alicetag', `To: <sip:${to}@wac.local>`, `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} INVITE`, `Contact: <sip:alice@127.0.0.1:${alice.port}>`, ...(o.auth ? [`Proxy-Authorization: ${o.auth}`] : []),
    'Content-Type: application/sdp', 'Content-Length: 4', '', 'v=0;'].join('\r\n');
}

/** Alice's CANCEL of her authenticated INVITE (CSeq 2) to `to`, on that INVITE's branch. */
function cancelOf(to: string, callId: string, branch: string): string {
  return [`CANCEL sip:${to}@wac.local SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${alice.port};rport;branch=${branch}`,
    'Max-Forwards: 70', 'From: <sip:alice@wac.local>;tag=alicetag', `To: <sip:${to}@wac.local>`, `Call-ID: ${callId}`,
    'CSeq: 2 CANCEL', 'Content-Length: 0', '', ''].join('\r\n');
}

/** Sends an INVITE, answers the 407, and returns the branch of the authenticated INVITE. */
async function authedInvite(to: string, callId: string): Promise<string> {
  alice.send(invite(to, { cseq: 1, callId }), srv.sipPort);
  const ch = await alice.response();
  expect(ch.status).to.equal(407);
  alice.send(ack(ch, 1, `sip:${to}@wac.local`), srv.sipPort);
  const branch = `z9hG4bK${rnd()}`;
  alice.send(invite(to, { cseq: 2, callId, branch, auth: digestAnswer(ch.get('proxy-authenticate')!, 'alice', 'pw-alice', 'INVITE', `sip:${to}@wac.local`) }), srv.sipPort);
  return branch;
}

function ack(res: SipResponse, cseq: number, uri: string, routes: string[] = []): string {
  return [`ACK ${uri} SIP/2.0`, `Via: ${res.getAll('via')[0]}`, 'Max-Forwards: 70', `From: ${res.get('from')}`, `To: ${res.get('to')}`,
    `Call-ID: ${res.callId}`, `CSeq: ${cseq} ACK`, ...routes.map((r) => `Route: ${r}`), 'Content-Length: 0', '', ''].join('\r\n');
}

describe('stateful proxy over UDP', () => {
  let bob1: UdpPeer;
  let bob2: UdpPeer;

  before(async () => {
    srv = await startTestServer();
    for (const u of ['alice', 'bob', 'dave']) await srv.addUser(u, `pw-${u}`);
    [alice, bob1, bob2] = await Promise.all([UdpPeer.open(), UdpPeer.open(), UdpPeer.open()]);
    await registerPeer(alice, 'alice');
    await registerPeer(bob1, 'bob');
    await registerPeer(bob2, 'bob');
  });
  after(async () => {
    for (const p of [alice, bob1, bob2]) p.close();
    await srv.close();
  });

  it('answers 100 at once, challenges with 407, and refuses unknown (404) and unregistered (480) users', async () => {
    alice.send(invite('bob', { cseq: 1, callId: rnd() }), srv.sipPort);
    const trying = await alice.next();
    expect((trying as SipResponse).status).to.equal(100);
    expect((await alice.response()).status).to.equal(407);
    await authedInvite('nobody', rnd());
    expect((await alice.response()).status).to.equal(404);
    await authedInvite('dave', rnd());
    expect((await alice.response()).status).to.equal(480);
  });

  it('answers 483 when Max-Forwards is 0', async () => {
    alice.send(invite('bob', { cseq: 1, callId: rnd(), mf: 0 }), srv.sipPort);
    expect((await alice.response()).status).to.equal(483);
  });

  it('forks to both devices, forwards 180 and 200, CANCELs the loser with the Reason, routes ACK and BYE', async () => {
    const callId = rnd();
    await authedInvite('bob', callId);
    const [in1, in2] = await Promise.all([bob1.request(), bob2.request()]);
    for (const [inv, peer] of [[in1, bob1], [in2, bob2]] as const) {
      expect(inv.method).to.equal('INVITE');
      expect(inv.uri).to.equal(`sip:bob@127.0.0.1:${peer.port}`);
      expect(inv.get('max-forwards')).to.equal('69');
      expect(inv.getAll('record-route').length).to.equal(1);
      expect(inv.vias!.length).to.equal(2);
      expect(inv.has('proxy-authorization')).to.equal(false);
      expect(inv.body.toString()).to.equal('v=0;');
    }
    bob1.send(reply(in1, '180 Ringing', 'b1'), srv.sipPort);
    bob2.send(reply(in2, '180 Ringing', 'b2'), srv.sipPort);
    const r1 = await alice.response();
    expect(r1.status).to.equal(180);
    expect(r1.vias!.length).to.equal(1);
    expect((await alice.response()).status).to.equal(180);
    bob1.send(reply(in1, '200 OK', 'b1', [`Contact: <sip:bob@127.0.0.1:${bob1.port}>`]), srv.sipPort);
    const ok = await alice.response();
    expect(ok.status).to.equal(200);
    const cancel = await bob2.request();
    expect(cancel.method).to.equal('CANCEL');
    expect(cancel.get('reason')).to.equal('SIP ;cause=200 ;text="Call completed elsewhere"');
    expect(cancel.topVia!.branch).to.equal(in2.topVia!.branch);
    bob2.send(reply(cancel, '200 OK', null), srv.sipPort);
    bob2.send(reply(in2, '487 Request Terminated', 'b2'), srv.sipPort);
    const hopAck = await bob2.request();
    expect(hopAck.method).to.equal('ACK');
    expect(hopAck.topVia!.branch).to.equal(in2.topVia!.branch);

    const routes = ok.getAll('record-route');
    alice.send(ack(ok, 2, `sip:bob@127.0.0.1:${bob1.port}`, routes).replace(/branch=[^;\r]+/, `branch=z9hG4bK${rnd()}`), srv.sipPort);
    const e2eAck = await bob1.request();
    expect(e2eAck.method).to.equal('ACK');
    expect(e2eAck.has('route')).to.equal(false);

    alice.send([`BYE sip:bob@127.0.0.1:${bob1.port} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${alice.port};rport;branch=z9hG4bK${rnd()}`,
      'Max-Forwards: 70', 'From: <sip:alice@wac.local>;tag=alicetag', `To: ${ok.get('to')}`, `Call-ID: ${callId}`, 'CSeq: 3 BYE',
      ...routes.map((r) => `Route: ${r}`), 'Content-Length: 0', '', ''].join('\r\n'), srv.sipPort);
    const bye = await bob1.request();
    expect(bye.method).to.equal('BYE');
    bob1.send(reply(bye, '200 OK', null), srv.sipPort);
    expect((await alice.response()).status).to.equal(200);
  });

  it('sends the best final response when every branch fails: 486 and 603 give 603', async () => {
    await authedInvite('bob', rnd());
    const [in1, in2] = await Promise.all([bob1.request(), bob2.request()]);
    bob1.send(reply(in1, '486 Busy Here', 'b1'), srv.sipPort);
    const ack = await bob1.request(); // hop-by-hop ACK
    expect(ack.method).to.equal('ACK');
    // A retransmitted 486 gets the same ACK again (Timer D), and nothing goes upstream.
    bob1.send(reply(in1, '486 Busy Here', 'b1'), srv.sipPort);
    const again = await bob1.request();
    expect([again.method, again.topVia!.branch, again.get('to'), again.get('cseq')]).to.deep.equal(
      [ack.method, ack.topVia!.branch, ack.get('to'), ack.get('cseq')]);
    bob2.send(reply(in2, '603 Decline', 'b2'), srv.sipPort);
    await bob2.request();
    expect((await alice.response()).status).to.equal(603);
  });

  it('answers a caller CANCEL with 200, cancels every ringing branch and returns 487', async () => {
    const callId = rnd();
    const branch = await authedInvite('bob', callId);
    const [in1, in2] = await Promise.all([bob1.request(), bob2.request()]);
    bob1.send(reply(in1, '180 Ringing', 'b1'), srv.sipPort);
    bob2.send(reply(in2, '180 Ringing', 'b2'), srv.sipPort);
    await alice.response();
    await alice.response();
    alice.send(cancelOf('bob', callId, branch), srv.sipPort);
    const c200 = await alice.response();
    expect(c200.status).to.equal(200);
    expect(c200.cseq!.method).to.equal('CANCEL');
    for (const [peer, inv] of [[bob1, in1], [bob2, in2]] as const) {
      const c = await peer.request();
      expect(c.method).to.equal('CANCEL');
      peer.send(reply(c, '200 OK', null), srv.sipPort);
      peer.send(reply(inv, '487 Request Terminated', peer === bob1 ? 'b1' : 'b2'), srv.sipPort);
      expect((await peer.request()).method).to.equal('ACK');
    }
    expect((await alice.response()).status).to.equal(487);
  });

  it('lets the messages and the finished contexts of a call go while its transactions linger (RFC 6026 Accepted, Timers D, I, K)', async () => {
    const watched = new Map<string, WeakRef<object>>();
    // Weakly too: a strong reference would keep the BYE's context alive through the WeakMap of contexts.
    const txs = new Map<string, WeakRef<ServerTransaction | ClientTransaction>>();
    const name = (req: SipRequest, side: string) => `${req.method} ${req.cseq!.seq} ${side}`;
    const onRequest = Proxy.prototype.onRequest;
    const sendRequest = TransactionLayer.prototype.sendRequest;
    Proxy.prototype.onRequest = function (this: Proxy, req, tx) {
      watched.set(name(req, 'in'), new WeakRef(req));
      txs.set(name(req, 'in'), new WeakRef(tx));
      onRequest.call(this, req, tx);
    };
    TransactionLayer.prototype.sendRequest = function (this: TransactionLayer, req, flow, user) {
      const tx = sendRequest.call(this, req, flow, user);
      const n = name(req, `to ${flow.remotePort === bob1.port ? 'bob1' : 'bob2'}`);
      watched.set(n, new WeakRef(req));
      watched.set(`${req.method} ${req.cseq!.seq} context`, new WeakRef(user));
      txs.set(n, new WeakRef(tx));
      return tx;
    };
    try {
      const callId = rnd();
      await authedInvite('bob', callId);
      const [in1, in2] = await Promise.all([bob1.request(), bob2.request()]);
      bob2.send(reply(in2, '180 Ringing', 'b2'), srv.sipPort);
      expect((await alice.response()).status).to.equal(180);
      bob1.send(reply(in1, '200 OK', 'b1', [`Contact: <sip:bob@127.0.0.1:${bob1.port}>`]), srv.sipPort);
      const ok = await alice.response();
      const cancel = await bob2.request();
      bob2.send(reply(cancel, '200 OK', null), srv.sipPort);
      bob2.send(reply(in2, '487 Request Terminated', 'b2'), srv.sipPort);
      expect((await bob2.request()).method).to.equal('ACK');
      alice.send([`BYE sip:bob@127.0.0.1:${bob1.port} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${alice.port};rport;branch=z9hG4bK${rnd()}`,
        'Max-Forwards: 70', 'From: <sip:alice@wac.local>;tag=alicetag', `To: ${ok.get('to')}`, `Call-ID: ${callId}`, 'CSeq: 3 BYE',
        ...ok.getAll('record-route').map((r) => `Route: ${r}`), 'Content-Length: 0', '', ''].join('\r\n'), srv.sipPort);
      const bye = await bob1.request();
      bob1.send(reply(bye, '200 OK', null), srv.sipPort);
      expect((await alice.response()).status).to.equal(200);
    } finally {
      Proxy.prototype.onRequest = onRequest;
      TransactionLayer.prototype.sendRequest = sendRequest;
    }

    const lingering = {
      'INVITE 1 in': 'confirmed', 'INVITE 2 in': 'accepted', 'INVITE 2 to bob1': 'accepted', 'INVITE 2 to bob2': 'completed',
      'CANCEL 2 to bob2': 'completed', 'BYE 3 to bob1': 'completed',
    };
    expect(Object.fromEntries(Object.keys(lingering).map((n) => [n, txs.get(n)?.deref()?.state]))).to.deep.equal(lingering);
    // The INVITE's context stays: Accepted still passes 2xx retransmissions upstream through it.
    expect(await survivors(watched), 'still reachable').to.deep.equal(['INVITE 2 context']);
  });
});

/**
 * A server with `ini`, alice (the module's caller) and carol registered over UDP; returns carol. What
 * it opens goes onto `opened`, for the suite to close in reverse: a failed `before` must not close
 * another suite's.
 */
async function startWithCarol(ini: string, opened: Array<() => unknown>): Promise<UdpPeer> {
  srv = await startTestServer({ ini });
  opened.push(() => srv.close());
  for (const u of ['alice', 'carol']) await srv.addUser(u, `pw-${u}`);
  const [a, carol] = await Promise.all([UdpPeer.open(), UdpPeer.open()]);
  alice = a;
  opened.push(() => alice.close(), () => carol.close());
  await registerPeer(alice, 'alice');
  await registerPeer(carol, 'carol');
  return carol;
}

describe('stateful proxy over UDP: Timer C (RFC 3261 §16.6 step 11, §16.8)', () => {
  let carol: UdpPeer;
  const opened: Array<() => unknown> = [];

  before(async () => {
    carol = await startWithCarol('[proxy]\ntimer_c = 1', opened);
  });
  after(async () => {
    for (const close of opened.reverse()) await close();
  });

  /** The next request carol gets that is not a retransmission of the INVITE. */
  async function nextBut(inv: SipRequest, ms: number): Promise<SipRequest> {
    for (;;) {
      const req = await carol.request(ms);
      if (req.method !== 'INVITE' || req.topVia!.branch !== inv.topVia!.branch) return req;
    }
  }

  it('restarts on every provisional, then CANCELs the ringing leg and gives the caller 408', async () => {
    await authedInvite('carol', rnd());
    const inv = await carol.request();
    carol.send(reply(inv, '180 Ringing', 'c1'), srv.sipPort);
    const firstRing = Date.now();
    expect((await alice.response()).status).to.equal(180);
    // Past half of Timer C, a second provisional starts it again.
    await new Promise((r) => setTimeout(r, 600));
    carol.send(reply(inv, '183 Session Progress', 'c1'), srv.sipPort);
    expect((await alice.response()).status).to.equal(183);
    const cancel = await nextBut(inv, 3000);
    const after = Date.now() - firstRing;
    expect(cancel.method).to.equal('CANCEL');
    // Without the restart it would have come 1 s after the first 180.
    expect(after, 'ms from the first 180 to the CANCEL').to.be.at.least(1500);
    carol.send(reply(cancel, '200 OK', null), srv.sipPort);
    carol.send(reply(inv, '487 Request Terminated', 'c1'), srv.sipPort);
    expect((await nextBut(inv, 2000)).method).to.equal('ACK');
    const final = await alice.response();
    expect([final.status, final.reason]).to.deep.equal([408, 'Request Timeout']);
    alice.send(ack(final, 2, 'sip:carol@wac.local'), srv.sipPort);
  });

  it('a re-INVITE that Timer C CANCELs gives the caller 487, not 408 (which would end the call, RFC 3261 §14.1)', async () => {
    const callId = rnd();
    await authedInvite('carol', callId);
    const inv = await carol.request();
    carol.send(reply(inv, '200 OK', 'c2', [`Contact: <sip:carol@127.0.0.1:${carol.port}>`]), srv.sipPort);
    let ok = await alice.response();
    while (ok.status < 200) ok = await alice.response();
    const routes = ok.getAll('record-route');
    const target = `sip:carol@127.0.0.1:${carol.port}`;
    alice.send(ack(ok, 2, target, routes).replace(/branch=[^;\r]+/, `branch=z9hG4bK${rnd()}`), srv.sipPort);
    expect((await nextBut(inv, 2000)).method).to.equal('ACK');
    alice.send([`INVITE ${target} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${alice.port};rport;branch=z9hG4bK${rnd()}`,
      'Max-Forwards: 70', 'From: <sip:alice@wac.local>;tag=alicetag', `To: ${ok.get('to')}`, `Call-ID: ${callId}`, 'CSeq: 3 INVITE',
      `Contact: <sip:alice@127.0.0.1:${alice.port}>`, ...routes.map((r) => `Route: ${r}`), 'Content-Length: 0', '', ''].join('\r\n'), srv.sipPort);
    const reinvite = await nextBut(inv, 2000);
    expect(reinvite.method).to.equal('INVITE');
    carol.send(reply(reinvite, '180 Ringing', null), srv.sipPort);
    const cancel = await nextBut(reinvite, 3000);
    expect(cancel.method).to.equal('CANCEL');
    carol.send(reply(cancel, '200 OK', null), srv.sipPort);
    carol.send(reply(reinvite, '487 Request Terminated', null), srv.sipPort);
    expect((await nextBut(reinvite, 2000)).method).to.equal('ACK');
    let final = await alice.response();
    while (final.status < 200) final = await alice.response();
    expect([final.cseq!.seq, final.status]).to.deep.equal([3, 487]);
    alice.send(ack(final, 3, target, routes), srv.sipPort);
  });

  it('runs from the INVITE: a leg that never answers at all gives the caller 408, with no CANCEL (§9.1)', async () => {
    const callId = rnd();
    await authedInvite('carol', callId);
    const inv = await carol.request();
    const sent = Date.now();
    const final = await alice.response(3000);
    expect([final.callId, final.status, final.reason]).to.deep.equal([callId, 408, 'Request Timeout']);
    alice.send(ack(final, 2, 'sip:carol@wac.local'), srv.sipPort);
    expect(Date.now() - sent, 'ms from the INVITE to the 408').to.be.at.least(900);
    // Until then only retransmissions of the INVITE reached carol (read from the queue now)...
    const seen: string[] = [];
    for (let r = await carol.request(1).catch(() => null); r; r = await carol.request(1).catch(() => null)) {
      seen.push(`${r.method} ${r.callId === callId && r.topVia!.branch === inv.topVia!.branch ? 'retransmitted' : 'other'}`);
    }
    expect(seen.filter((x) => x !== 'INVITE retransmitted'), 'what carol got before the 408').to.deep.equal([]);
    // ...and none after: Timer C ended the leg as if it had answered 408 (§16.8). Timer A would have
    // sent one at 1.5 s.
    const more = await carol.request(Math.max(1, sent + 2000 - Date.now())).catch(() => null);
    expect(more === null ? null : `${more.method} ${more.callId} ${more.cseq?.seq}`, 'what carol got after the 408').to.equal(null);
  });
});

describe('stateful proxy over UDP: a leg that answers neither the CANCEL nor the INVITE (RFC 3261 §9.1)', () => {
  let carol: UdpPeer;
  const opened: Array<() => unknown> = [];

  before(async () => {
    // T1 = 20 ms: the 64*T1 wait after a CANCEL is 1.28 s.
    carol = await startWithCarol('[timers]\nt1 = 20\nt2 = 160', opened);
  });
  after(async () => {
    for (const close of opened.reverse()) await close();
  });

  it('gives the caller its 487 64*T1 after the CANCEL', async () => {
    const callId = rnd();
    const branch = await authedInvite('carol', callId);
    const inv = await carol.request();
    carol.send(reply(inv, '180 Ringing', 'c1'), srv.sipPort);
    let res = await alice.response();
    while (res.status === 100) res = await alice.response();
    expect(res.status).to.equal(180);
    alice.send(cancelOf('carol', callId, branch), srv.sipPort);
    const cancelled = Date.now();
    // Carol gets the CANCEL (and its retransmissions: she never answers it either).
    let cancel = await carol.request();
    while (cancel.method === 'INVITE') cancel = await carol.request();
    expect(cancel.method).to.equal('CANCEL');
    res = await alice.response();
    expect([res.status, res.cseq!.method]).to.deep.equal([200, 'CANCEL']);
    const final = await alice.response(5000);
    expect([final.status, final.cseq!.method]).to.deep.equal([487, 'INVITE']);
    expect(Date.now() - cancelled, 'ms from the CANCEL to the 487').to.be.within(1200, 4000);
    alice.send(ack(final, 2, 'sip:carol@wac.local'), srv.sipPort);
  });
});

describe('stateful proxy over UDP: a trunk that challenges a call already CANCELled', () => {
  let trunk: UdpPeer;
  const opened: Array<() => unknown> = [];

  before(async () => {
    trunk = await UdpPeer.open();
    opened.push(() => trunk.close());
    // allow[] names another address: the test's peers on 127.0.0.1 call as users, not as the trunk.
    srv = await startTestServer({ ini: `[trunk.t]\naddress = 127.0.0.1\nport = ${trunk.port}\nallow[] = 127.0.0.9\nusername = wac\npassword = trunk-pw` });
    opened.push(() => srv.close());
    await srv.addUser('alice', 'pw-alice');
    const aliceId = (await srv.users.findByName('wac.local', 'alice'))!.id;
    await new SipMappings(srv.wac.store, { realm: 'wac.local' }).create({ ownerUri: `wac-user:${aliceId}`, credential: { username: '300' } });
    alice = await UdpPeer.open();
    opened.push(() => alice.close());
    await registerPeer(alice, 'alice');
  });
  after(async () => {
    for (const close of opened.reverse()) await close();
  });

  it('ACKs the challenge and sends no new INVITE: the caller gets 487', async () => {
    const callId = rnd();
    const branch = await authedInvite('5551234', callId);
    const inv = await trunk.request();
    expect(inv.method).to.equal('INVITE');
    alice.send(cancelOf('5551234', callId, branch), srv.sipPort);
    let res = await alice.response();
    while (res.status === 100) res = await alice.response();
    expect([res.status, res.cseq!.method]).to.deep.equal([200, 'CANCEL']);
    // No provisional came, so the CANCEL waits (RFC 3261 §9.1); the trunk challenges instead.
    trunk.send(reply(inv, '407 Proxy Authentication Required', 't1', ['Proxy-Authenticate: Digest realm="pstn", nonce="n1", qop="auth"']), srv.sipPort);
    expect((await trunk.request()).method).to.equal('ACK');
    const more = await trunk.request(400).catch(() => null);
    expect(more === null ? null : `${more.method} ${more.topVia?.branch}`, 'what reached the trunk after the ACK').to.equal(null);
    expect((await alice.response()).status).to.equal(487);
  });
});
