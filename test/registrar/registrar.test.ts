import { expect } from 'chai';
import { startTestServer, TestServer } from '../support/server';
import { digestAnswer, rnd, UdpPeer } from '../support/udp-peer';

describe('registrar over UDP', () => {
  let srv: TestServer;
  let peer: UdpPeer;
  before(async () => {
    srv = await startTestServer({ ini: '[registrar]\nmin_expires = 60\nmax_expires = 3600\ndefault_expires = 600\n' });
    await srv.addUser('carol', 'pw-carol');
  });
  after(() => srv.close());
  beforeEach(async () => {
    peer = await UdpPeer.open();
  });
  afterEach(() => peer.close());

  function register(o: { callId: string; cseq: number; contact: string; expires?: string; auth?: string; extra?: string }) {
    peer.send([
      `REGISTER sip:wac.local SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};rport;branch=z9hG4bK${rnd()}`,
      'Max-Forwards: 70',
      'From: <sip:carol@wac.local>;tag=' + rnd(),
      'To: <sip:carol@wac.local>',
      `Call-ID: ${o.callId}`,
      `CSeq: ${o.cseq} REGISTER`,
      `Contact: ${o.contact}`,
      ...(o.expires !== undefined ? [`Expires: ${o.expires}`] : []),
      ...(o.auth ? [`Authorization: ${o.auth}`] : []),
      ...(o.extra ? [o.extra] : []),
      'Content-Length: 0', '', '',
    ].join('\r\n'), srv.sipPort);
  }

  /** REGISTER, answer the 401, return the final response. */
  async function registerAuthed(o: { callId: string; cseq: number; contact: string; expires?: string; extra?: string }) {
    register(o);
    const ch = await peer.response();
    expect(ch.status).to.equal(401);
    register({ ...o, cseq: o.cseq + 1, auth: digestAnswer(ch.get('www-authenticate')!, 'carol', 'pw-carol', 'REGISTER', 'sip:wac.local') });
    return peer.response();
  }

  it('challenges with MD5 qop=auth and registers with the right password', async () => {
    const callId = rnd();
    const res = await registerAuthed({ callId, cseq: 1, contact: `<sip:carol@127.0.0.1:${peer.port}>`, expires: '300' });
    expect(res.status).to.equal(200);
    expect(res.getAll('contact')).to.deep.equal([`<sip:carol@127.0.0.1:${peer.port}>;expires=300`]);
    expect(await srv.bindings('carol')).to.equal(1);
    await registerAuthed({ callId, cseq: 3, contact: '*', expires: '0' });
    expect(await srv.bindings('carol')).to.equal(0);
  });

  it('refuses a wrong password with a fresh challenge', async () => {
    register({ callId: rnd(), cseq: 1, contact: `<sip:carol@127.0.0.1:${peer.port}>` });
    const ch = await peer.response();
    register({ callId: rnd(), cseq: 2, contact: `<sip:carol@127.0.0.1:${peer.port}>`,
      auth: digestAnswer(ch.get('www-authenticate')!, 'carol', 'nope', 'REGISTER', 'sip:wac.local') });
    const res = await peer.response();
    expect(res.status).to.equal(401);
    expect(await srv.bindings('carol')).to.equal(0);
  });

  it('answers 423 with Min-Expires when the interval is too brief, and caps it at max_expires', async () => {
    const res = await registerAuthed({ callId: rnd(), cseq: 1, contact: `<sip:carol@127.0.0.1:${peer.port}>`, expires: '10' });
    expect(res.status).to.equal(423);
    expect(res.get('min-expires')).to.equal('60');
    const capped = await registerAuthed({ callId: rnd(), cseq: 1, contact: `<sip:carol@127.0.0.1:${peer.port}>;expires=999999` });
    expect(capped.getAll('contact')[0]).to.match(/;expires=3600$/);
    await registerAuthed({ callId: rnd(), cseq: 5, contact: '*', expires: '0' });
  });

  it('keys bindings by +sip.instance and reg-id, echoes params byte-exact and requires outbound', async () => {
    const inst = '+sip.instance="<urn:uuid:00000000-0000-0000-0000-00000000ABCD>"';
    const a = await registerAuthed({ callId: rnd(), cseq: 1, contact: `<sip:a1@x.invalid;transport=ws>;+sip.ice;reg-id=1;${inst}`, extra: 'Supported: path, outbound' });
    expect(a.status).to.equal(200);
    expect(a.get('require')).to.equal('outbound');
    // A reloaded tab: same instance, new Contact URI, new Call-ID → replaces the binding.
    const b = await registerAuthed({ callId: rnd(), cseq: 1, contact: `<sip:b2@y.invalid;transport=ws>;+sip.ice;reg-id=1;${inst}` });
    expect(b.getAll('contact')).to.deep.equal([`<sip:b2@y.invalid;transport=ws>;+sip.ice;reg-id=1;${inst};expires=600`]);
    expect(await srv.bindings('carol')).to.equal(1);
    await registerAuthed({ callId: rnd(), cseq: 1, contact: '*', expires: '0' });
  });

  it('refuses an out-of-order CSeq on the same Call-ID and a REGISTER for another user', async () => {
    const callId = rnd();
    expect((await registerAuthed({ callId, cseq: 10, contact: `<sip:carol@127.0.0.1:${peer.port}>` })).status).to.equal(200);
    expect((await registerAuthed({ callId, cseq: 3, contact: `<sip:carol@127.0.0.1:${peer.port}>` })).status).to.equal(400);
    await registerAuthed({ callId, cseq: 20, contact: '*', expires: '0' });
    peer.send([
      'REGISTER sip:wac.local SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};rport;branch=z9hG4bK${rnd()}`,
      'Max-Forwards: 70', 'From: <sip:carol@example.org>;tag=1', 'To: <sip:carol@example.org>', `Call-ID: ${rnd()}`,
      'CSeq: 1 REGISTER', `Contact: <sip:carol@127.0.0.1:${peer.port}>`, 'Content-Length: 0', '', ''].join('\r\n'), srv.sipPort);
    expect((await peer.response()).status).to.equal(403);
  });

  it('answers a retransmitted REGISTER without credentials with a new challenge, keeping nothing for it (RFC 3261 §8.2.7)', async () => {
    const text = [
      'REGISTER sip:wac.local SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};rport;branch=z9hG4bK${rnd()}`,
      'Max-Forwards: 70', 'From: <sip:carol@wac.local>;tag=1', 'To: <sip:carol@wac.local>', `Call-ID: ${rnd()}`,
      'CSeq: 1 REGISTER', `Contact: <sip:carol@127.0.0.1:${peer.port}>`, 'Content-Length: 0', '', ''].join('\r\n');
    peer.send(text, srv.sipPort);
    const first = await peer.response();
    peer.send(text, srv.sipPort);
    const second = await peer.response();
    expect([first.status, second.status]).to.deep.equal([401, 401]);
    expect(second.get('www-authenticate')).to.not.equal(first.get('www-authenticate'));
    // Either challenge works: the client answers whichever reached it first.
    const callId = /Call-ID: (\S+)/.exec(text)![1];
    const auth = digestAnswer(first.get('www-authenticate')!, 'carol', 'pw-carol', 'REGISTER', 'sip:wac.local');
    register({ callId, cseq: 2, contact: `<sip:carol@127.0.0.1:${peer.port}>`, auth });
    expect((await peer.response()).status).to.equal(200);
  });

  it('absorbs a retransmitted authenticated REGISTER by resending the same 200 (its nonce is accepted once)', async () => {
    const callId = rnd();
    register({ callId, cseq: 1, contact: `<sip:carol@127.0.0.1:${peer.port}>` });
    const ch = await peer.response();
    const text = [
      'REGISTER sip:wac.local SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};rport;branch=z9hG4bK${rnd()}`,
      'Max-Forwards: 70', 'From: <sip:carol@wac.local>;tag=1', 'To: <sip:carol@wac.local>', `Call-ID: ${callId}`,
      'CSeq: 2 REGISTER', `Contact: <sip:carol@127.0.0.1:${peer.port}>`,
      `Authorization: ${digestAnswer(ch.get('www-authenticate')!, 'carol', 'pw-carol', 'REGISTER', 'sip:wac.local')}`,
      'Content-Length: 0', '', ''].join('\r\n');
    peer.send(text, srv.sipPort);
    const first = await peer.response();
    peer.send(text, srv.sipPort);
    const second = await peer.response();
    expect([first.status, second.status]).to.deep.equal([200, 200]);
    expect(second.get('date')).to.equal(first.get('date'));
    expect(second.getAll('contact')).to.deep.equal(first.getAll('contact'));
  });
});
