/**
 * End-to-end: calls to a user group (issue 5). Real JsSIP 3.13 and SIP.js 0.21 participants over
 * WebSocket, and raw UDP participants for the race of a 200 against the other legs' first 180.
 *
 * What is checked (issue 5, RFC 3261 §16.7 / §9.1, RFC 3326):
 * - an INVITE to sip:<groupId>@wac.local rings every participant's devices at once, on the caller's
 *   behalf; the caller (if a participant) is not rung; a participant with no device is skipped;
 * - the first answer connects; every other leg gets CANCEL with
 *   `Reason: SIP ;cause=200 ;text="Call completed elsewhere"` — also when the 200 and the other legs'
 *   first 180 arrive in the same instant (no leg left ringing);
 * - a participant's reject is not reported to the caller while others ring;
 * - nobody answers within [groups] ring_timeout, or every leg fails: 480 with
 *   `Reason: SIP ;cause=480 ;text="No participant answered"`, and every ringing leg is CANCELled;
 * - without `backend[] = UsersGroup` a group id is not callable (404);
 * - the call detail record names the group as callee and the participant who answered.
 */
import { expect } from 'chai';
import { Cdrs, type Cdr } from '../../shared/model/cdrs';
import { Groups } from '../../shared/model/groups';
import { SipMessage, SipRequest, SipResponse } from '../../signaling/sip/message';
import { parseMessage } from '../../signaling/sip/parser';
import { adminClient, newAccount, type Account, type ApiClient } from '../support/api';
import {
  createJsSipUa,
  rawHeader,
  sleep,
  stopAllJsSipUas,
  waitUntil,
  wireMatching,
  type JsSipSession,
  type JsSipUa,
} from '../support/jssip';
import { makeAnswer } from '../support/sdp';
import { startTestServer, type TestServer } from '../support/server';
import { clientSuite } from '../support/suite';
import { createSipJsUa, stopAllSipJsUas, type SipJsSession, type SipJsUa } from '../support/sipjs';
import { digestAnswer, rnd, UdpPeer } from '../support/udp-peer';

const COMPLETED_ELSEWHERE = 'SIP ;cause=200 ;text="Call completed elsewhere"';
const NOBODY_ANSWERED = 'SIP ;cause=480 ;text="No participant answered"';


let seq = 0;

/** A user created through the admin API (POST /sapi/users with a basic credential). */
/** A group created through the admin API; returns its id. */
async function newGroup(api: ApiClient, participants: string[]): Promise<string> {
  const r = await api.post('/usersgroups', { name: `group ${++seq}`, participants });
  expect(r.status, `create group: ${JSON.stringify(r.body)}`).to.equal(201);
  expect(r.body.id).to.be.a('string');
  return r.body.id;
}

/** The call detail record of `callId`, once written (bounded). */
async function cdrFor(srv: TestServer, callId: string, ms = 3000): Promise<Cdr> {
  let found: Cdr | undefined;
  await waitUntil(async () => {
    found = (await new Cdrs(srv.wac.store).list()).find((c) => c.callId === callId);
    return !!found;
  }, ms, `the call detail record of ${callId}`);
  return found!;
}

/** The Reason header of the caller's final response `code` (JsSIP or SIP.js wire trace). */
function finalReason(s: JsSipSession | SipJsSession, code: number): string | undefined {
  const res = wireMatching(s.wire(), 'in', new RegExp(`^SIP/2\\.0 ${code} `)).at(-1);
  return res ? rawHeader(res.text, 'Reason') : undefined;
}

/** JsSIP participant: the incoming leg was CANCELled (not answered) with `reason`; it answered 487. */
async function expectJsSipCancelled(inc: JsSipSession, reason: RegExp | string): Promise<void> {
  const end = await inc.failed();
  expect(end, `${inc.owner.label}: how the leg ended`).to.include({ originator: 'remote', cause: 'Canceled', method: 'CANCEL' });
  if (typeof reason === 'string') expect(end.reasonHeader, `${inc.owner.label}: Reason of the CANCEL`).to.equal(reason);
  else expect(end.reasonHeader ?? '', `${inc.owner.label}: Reason of the CANCEL`).to.match(reason);
  await waitUntil(() => wireMatching(inc.wire(), 'out', /^SIP\/2\.0 487/).length === 1, 2000, `${inc.owner.label}: 487 sent`);
}

/** SIP.js participant: the incoming leg was CANCELled with `reason` and is terminated. */
async function expectSipJsCancelled(inc: SipJsSession, reason: RegExp | string): Promise<void> {
  const r = await inc.cancelReceived();
  if (typeof reason === 'string') expect(r, `${inc.owner.label}: Reason of the CANCEL`).to.equal(reason);
  else expect(r ?? '', `${inc.owner.label}: Reason of the CANCEL`).to.match(reason);
  const end = await inc.terminated();
  expect(end.canceled).to.equal(true);
}

describe('e2e: group calls', function () {
  this.timeout(30000);

  describe('with the default ring timeout', () => {
    let srv: TestServer;
    let api: ApiClient;

    clientSuite((suite) => ({ srv, api } = suite));

    /** Three participants (JsSIP, SIP.js, JsSIP) and a caller, all registered; the group's id. */
    async function setup(callerKind: 'jssip' | 'sipjs' = 'jssip') {
      const [u1, u2, u3, uc] = await Promise.all([newAccount(api, 'p'), newAccount(api, 'p'), newAccount(api, 'p'), newAccount(api, 'caller')]);
      const groupId = await newGroup(api, [u1.id, u2.id, u3.id]);
      const [p1, p2, p3] = await Promise.all([
        createJsSipUa({ server: srv, ...u1, label: `jssip:${u1.username}` }),
        createSipJsUa({ server: srv, ...u2, label: `sipjs:${u2.username}` }),
        createJsSipUa({ server: srv, ...u3, label: `jssip:${u3.username}` }),
      ]);
      const caller = callerKind === 'jssip' ? await createJsSipUa({ server: srv, ...uc }) : await createSipJsUa({ server: srv, ...uc });
      return { u1, u2, u3, uc, groupId, p1, p2, p3, caller };
    }

    it('rings all three participants on the caller\'s behalf; the first answer connects, the others get CANCEL "Call completed elsewhere"; BYE works; the CDR names the group and who answered', async () => {
      const { u2, uc, groupId, p1, p2, p3, caller } = await setup('jssip');
      const out = (caller as JsSipUa).call(groupId);
      const [in1, in2, in3] = await Promise.all([p1.nextIncoming(), p2.nextIncoming(), p3.nextIncoming()]);
      // Every leg is the caller's call: its From is the caller, its To the group.
      expect(in1.request.from.uri.user).to.equal(uc.username);
      expect(in3.request.from.uri.user).to.equal(uc.username);
      expect(in2.session.request.from.uri.user).to.equal(uc.username);
      expect(in1.request.to.uri.user).to.equal(groupId);
      expect(await out.progress()).to.equal(180);

      await in2.answer(); // the SIP.js participant answers
      await out.confirmed();
      await in2.ackReceived();
      await Promise.all([
        expectJsSipCancelled(in1, COMPLETED_ELSEWHERE),
        expectJsSipCancelled(in3, COMPLETED_ELSEWHERE),
      ]);
      expect(out.responses.filter((c) => c >= 200 && c < 300), 'the caller got exactly one 2xx').to.have.length(1);
      expect(out.responses.filter((c) => c >= 300)).to.deep.equal([]);
      expect(out.isEstablished()).to.equal(true);

      out.terminate(); // BYE from the caller
      expect(await out.ended()).to.include({ originator: 'local', cause: 'Terminated' });
      await in2.byeReceivedP();
      await in2.terminated();

      const cdr = await cdrFor(srv, out.callId);
      expect(cdr).to.include({ kind: 'group', caller: uc.id, callee: groupId, answeredBy: u2.id, result: 'answered', code: 200 });
      expect(cdr.answer).to.be.a('string');
    });

    it('a participant who rejects (486) is not reported: the caller keeps ringing, another participant answers and the call connects', async () => {
      const { u3, groupId, p1, p2, p3, caller } = await setup('sipjs');
      const out = (caller as SipJsUa).call(groupId);
      const [in1, in2, in3] = await Promise.all([p1.nextIncoming(), p2.nextIncoming(), p3.nextIncoming()]);
      expect(await out.progress()).to.equal(180);

      in1.reject(486);
      const end1 = await in1.failed();
      expect(end1).to.include({ originator: 'local' });
      // The 486 is ACKed hop by hop and never reaches the caller, which keeps ringing.
      await waitUntil(() => wireMatching(in1.wire(), 'in', /^ACK /).length === 1, 2000, 'ACK for the 486');
      await sleep(700);
      expect(out.responses.filter((c) => c >= 300), 'final responses seen by the caller').to.deep.equal([]);
      expect(out.state).to.equal('Establishing');

      await in3.answer(); // a JsSIP participant answers
      await out.established();
      await in3.confirmed();
      await expectSipJsCancelled(in2, COMPLETED_ELSEWHERE);
      expect(out.responses.filter((c) => c >= 300)).to.deep.equal([]);
      expect(out.responses.filter((c) => c >= 200 && c < 300)).to.have.length(1);

      await out.bye();
      await in3.ended();
      const cdr = await cdrFor(srv, out.callId);
      expect(cdr).to.include({ callee: groupId, answeredBy: u3.id, result: 'answered' });
    });

    it('every participant rejects (486, 603, 486): the caller gets 480 with Reason "No participant answered"', async () => {
      const { groupId, p1, p2, p3, caller } = await setup('sipjs');
      const out = (caller as SipJsUa).call(groupId);
      const [in1, in2, in3] = await Promise.all([p1.nextIncoming(), p2.nextIncoming(), p3.nextIncoming()]);
      await out.progress();
      in1.reject(486);
      await in2.reject(603);
      await sleep(300);
      expect(out.responses.filter((c) => c >= 300), 'no final before the last leg failed').to.deep.equal([]);
      in3.reject(486);
      expect(await out.rejected()).to.equal(480);
      expect(finalReason(out, 480)).to.equal(NOBODY_ANSWERED);
      expect(out.responses.filter((c) => c >= 300)).to.deep.equal([480]);
      const cdr = await cdrFor(srv, out.callId);
      expect(cdr).to.include({ kind: 'group', callee: groupId, answeredBy: null, code: 480 });
    });

    it('the caller, a participant, is not rung on any of its devices; a participant with no device is skipped', async () => {
      const [uc, u1, u2, idle] = await Promise.all([newAccount(api, 'caller'), newAccount(api, 'p'), newAccount(api, 'p'), newAccount(api, 'idle')]);
      const groupId = await newGroup(api, [uc.id, u1.id, idle.id, u2.id]);
      const callerDesk = await createJsSipUa({ server: srv, ...uc, label: 'caller-desk' });
      const callerPhone = await createSipJsUa({ server: srv, ...uc, label: 'caller-phone' });
      const p1 = await createJsSipUa({ server: srv, ...u1 });
      const p2 = await createSipJsUa({ server: srv, ...u2 });
      expect(await srv.bindings(uc.username)).to.equal(2);
      expect(await srv.bindings(idle.username)).to.equal(0);

      const out = callerDesk.call(groupId);
      const [in1, in2] = await Promise.all([p1.nextIncoming(), p2.nextIncoming()]);
      expect(await out.progress()).to.equal(180);
      await in1.answer();
      await out.confirmed();
      await expectSipJsCancelled(in2, COMPLETED_ELSEWHERE);
      expect(callerPhone.sessions, 'the caller\'s other device was rung').to.have.length(0);
      expect(callerDesk.incomingSessions, 'the calling device was rung').to.have.length(0);
      expect(wireMatching(callerPhone.wire, 'in', /^INVITE /)).to.have.length(0);
      out.terminate();
      await in1.ended();
    });

    it('a group whose only participant with a device is the caller: 480 with the Reason at once', async () => {
      const [uc, idle] = await Promise.all([newAccount(api, 'caller'), newAccount(api, 'idle')]);
      const groupId = await newGroup(api, [uc.id, idle.id]);
      const caller = await createJsSipUa({ server: srv, ...uc });
      const other = await createJsSipUa({ server: srv, ...uc, label: 'caller-2' });
      const out = caller.call(groupId);
      const end = await out.failed();
      expect(end.statusCode).to.equal(480);
      expect(end.reasonHeader).to.equal(NOBODY_ANSWERED);
      expect(other.incomingSessions).to.have.length(0);
    });

    it('the caller cancels: every ringing leg gets CANCEL, the caller 487, the CDR says cancelled', async () => {
      const { groupId, p1, p2, p3, caller } = await setup('jssip');
      const out = (caller as JsSipUa).call(groupId);
      const [in1, in2, in3] = await Promise.all([p1.nextIncoming(), p2.nextIncoming(), p3.nextIncoming()]);
      await out.progress();
      out.terminate(); // CANCEL
      expect(await out.failed()).to.include({ originator: 'local', cause: 'Canceled' });
      await Promise.all([expectJsSipCancelled(in1, /.*/), expectSipJsCancelled(in2, /.*/), expectJsSipCancelled(in3, /.*/)]);
      // Not "completed elsewhere": nobody answered.
      expect(in1.endInfo?.reasonHeader ?? '').not.to.match(/cause\s*=\s*200/);
      await waitUntil(() => wireMatching(out.wire(), 'in', /^SIP\/2\.0 487/).length === 1, 3000, '487 at the caller');
      const cdr = await cdrFor(srv, out.callId);
      expect(cdr).to.include({ callee: groupId, result: 'cancelled', code: 487, answeredBy: null });
    });
  });

  describe('ring timeout (ring_timeout = 2 s)', () => {
    let srv: TestServer;
    let api: ApiClient;

    clientSuite((suite) => ({ srv, api } = suite), { ini: '[groups]\nring_timeout = 2\n' });

    it('nobody answers (one participant on two devices): after the timeout the caller gets 480 with Reason "No participant answered", every leg gets CANCEL; CDR no-answer 480', async () => {
      const [u1, u2, u3, uc] = await Promise.all([newAccount(api, 'p'), newAccount(api, 'p'), newAccount(api, 'p'), newAccount(api, 'caller')]);
      const groupId = await newGroup(api, [u1.id, u2.id, u3.id]);
      const p1 = await createJsSipUa({ server: srv, ...u1 });
      const p1b = await createSipJsUa({ server: srv, ...u1, label: `${u1.username}-second-device` });
      const p2 = await createSipJsUa({ server: srv, ...u2 });
      const p3 = await createJsSipUa({ server: srv, ...u3 });
      const caller = await createJsSipUa({ server: srv, ...uc });

      const t0 = Date.now();
      const out = caller.call(groupId);
      const [in1, in1b, in2, in3] = await Promise.all([p1.nextIncoming(), p1b.nextIncoming(), p2.nextIncoming(), p3.nextIncoming()]);
      await out.progress();
      const end = await out.failed(6000);
      const elapsed = Date.now() - t0;
      expect(end.statusCode).to.equal(480);
      expect(end.reasonHeader).to.equal(NOBODY_ANSWERED);
      expect(elapsed, 'time to the 480 (ring_timeout = 2 s)').to.be.within(1700, 4500);

      // Every leg stopped ringing; the CANCEL does not claim the call was completed elsewhere.
      await Promise.all([expectJsSipCancelled(in1, /.*/), expectSipJsCancelled(in1b, /.*/), expectSipJsCancelled(in2, /.*/), expectJsSipCancelled(in3, /.*/)]);
      for (const r of [in1.endInfo?.reasonHeader, in1b.cancelReason, in2.cancelReason, in3.endInfo?.reasonHeader]) {
        expect(r ?? '').not.to.match(/cause\s*=\s*200/);
      }

      const cdr = await cdrFor(srv, out.callId);
      expect(cdr).to.include({ kind: 'group', caller: uc.id, callee: groupId, answeredBy: null, result: 'no-answer', code: 480 });
      expect(cdr.answer).to.equal(null);
    });

    it('an answer before the timeout is not cut by it', async () => {
      const [u1, u2, uc] = await Promise.all([newAccount(api, 'p'), newAccount(api, 'p'), newAccount(api, 'caller')]);
      const groupId = await newGroup(api, [u1.id, u2.id]);
      const p1 = await createJsSipUa({ server: srv, ...u1 });
      const p2 = await createSipJsUa({ server: srv, ...u2 });
      const caller = await createJsSipUa({ server: srv, ...uc });
      const out = caller.call(groupId);
      const [in1, in2] = await Promise.all([p1.nextIncoming(), p2.nextIncoming()]);
      await in2.answer();
      await out.confirmed();
      await expectJsSipCancelled(in1, COMPLETED_ELSEWHERE);
      await sleep(2800); // past the ring timeout
      expect(out.isEstablished()).to.equal(true);
      expect(in2.state).to.equal('Established');
      out.terminate();
      await in2.byeReceivedP();
    });
  });

  describe('without backend[] = UsersGroup', () => {
    let srv: TestServer;

    before(async () => {
      srv = await startTestServer({ usersGroup: false });
    });
    after(async () => {
      await srv?.close();
    });
    afterEach(async () => {
      await Promise.all([stopAllJsSipUas(), stopAllSipJsUas()]);
    });

    it('a group id is not callable: 404 (even for a group that exists in the store)', async () => {
      const api = await adminClient(srv);
      const [u1, uc] = await Promise.all([newAccount(api, 'p'), newAccount(api, 'caller')]);
      const created = await api.post('/usersgroups', { name: 'off', participants: [u1.id] });
      expect(created.status, 'the REST service is off too').to.equal(404);
      // The group exists (as if created while the service was on); it still must not be callable.
      const group = await new Groups(srv.wac.store).create({ name: 'stored', participants: [u1.id] }, uc.id);
      const p1 = await createJsSipUa({ server: srv, ...u1 });
      const caller = await createJsSipUa({ server: srv, ...uc });
      const out = caller.call(group.id);
      const end = await out.failed();
      expect(end.statusCode).to.equal(404);
      await sleep(200);
      expect(p1.incomingSessions, 'the participant was rung').to.have.length(0);
    });
  });

  describe('race: the 200 against the other legs\' first 180 (raw UDP participants)', () => {
    let srv: TestServer;
    let api: ApiClient;
    let peers: Peer[] = [];

    after(() => {
      for (const p of peers) p.close();
    });
    clientSuite((suite) => ({ srv, api } = suite));

    type Step = { peer: number; status: '180 Ringing' | '200 OK'; delayMs?: number };

    /**
     * The caller (JsSIP) calls the group of three UDP participants; once every participant holds
     * the INVITE, they send `steps` back to back (same tick unless delayMs). Every participant but
     * the one answering must get a CANCEL with "Call completed elsewhere".
     */
    async function race(steps: Step[], winner: number) {
      const accounts = await Promise.all([newAccount(api, 'udp'), newAccount(api, 'udp'), newAccount(api, 'udp')]);
      const uc = await newAccount(api, 'caller');
      const groupId = await newGroup(api, accounts.map((a) => a.id));
      const ps = await Promise.all(accounts.map((a) => Peer.open(a)));
      peers.push(...ps);
      await Promise.all(ps.map((p) => p.register(srv)));
      const caller = await createJsSipUa({ server: srv, ...uc });

      const out = caller.call(groupId);
      const callId = out.callId;
      const invites = await Promise.all(ps.map((p) => p.waitRequest((r) => r.method === 'INVITE' && r.callId === callId, 3000, 'INVITE')));
      const tags = ps.map(() => rnd());
      for (const s of steps) {
        if (s.delayMs) await sleep(s.delayMs);
        const p = ps[s.peer];
        const inv = invites[s.peer];
        if (s.status === '200 OK') {
          const sdp = makeAnswer({ sessionId: String(Date.now()) });
          p.send(reply(inv, '200 OK', tags[s.peer], [`Contact: <sip:${p.account.username}@127.0.0.1:${p.port}>`], sdp), srv.sipPort);
        } else {
          p.send(reply(inv, s.status, tags[s.peer]), srv.sipPort);
        }
      }

      // The caller is connected to the winner; the ACK reaches it.
      await out.confirmed();
      await ps[winner].waitRequest((r) => r.method === 'ACK' && r.callId === callId, 3000, 'end-to-end ACK');

      // Every other leg: CANCEL (same branch as its INVITE, with the Reason), then 200/487/ACK.
      for (let i = 0; i < ps.length; i++) {
        if (i === winner) continue;
        const p = ps[i];
        const cancel = await p.waitRequest((r) => r.method === 'CANCEL' && r.callId === callId, 3000, `CANCEL at participant ${i + 1} (left ringing?)`);
        expect(cancel.topVia!.branch).to.equal(invites[i].topVia!.branch);
        expect(cancel.get('reason'), `Reason of the CANCEL to participant ${i + 1}`).to.equal(COMPLETED_ELSEWHERE);
        p.send(reply(cancel, '200 OK', null), srv.sipPort);
        p.send(reply(invites[i], '487 Request Terminated', tags[i]), srv.sipPort);
        const ack = await p.waitRequest((r) => r.method === 'ACK' && r.callId === callId, 3000, `ACK for the 487 at participant ${i + 1}`);
        expect(ack.topVia!.branch).to.equal(invites[i].topVia!.branch);
      }
      expect(out.responses.filter((c) => c >= 200 && c < 300), 'the caller got one 2xx').to.have.length(1);
      expect(out.responses.filter((c) => c >= 300)).to.deep.equal([]);
      // No provisional reached the caller after its 2xx (§16.7: the 180s arriving late are not forwarded).
      const inviteResponses = out.wire().filter((w) => w.dir === 'in' && /^SIP\/2\.0 /.test(w.text) && /INVITE$/.test(rawHeader(w.text, 'CSeq') ?? ''));
      const firstOk = inviteResponses.findIndex((w) => /^SIP\/2\.0 2\d\d/.test(w.text));
      expect(inviteResponses.slice(firstOk + 1).filter((w) => /^SIP\/2\.0 1\d\d/.test(w.text)), 'provisionals after the 200').to.have.length(0);
      // The winner got no CANCEL.
      expect(ps[winner].requests('CANCEL', callId)).to.have.length(0);

      // Hang up: the BYE reaches the winner.
      out.terminate();
      const bye = await ps[winner].waitRequest((r) => r.method === 'BYE' && r.callId === callId, 3000, 'BYE at the winner');
      ps[winner].send(reply(bye, '200 OK', null), srv.sipPort);
      await out.ended();
      const cdr = await cdrFor(srv, callId);
      expect(cdr).to.include({ callee: groupId, answeredBy: accounts[winner].id, result: 'answered', code: 200 });
      // Nothing more arrives at the losers (no INVITE retransmission, no second CANCEL).
      await sleep(600);
      for (let i = 0; i < ps.length; i++) {
        if (i === winner) continue;
        expect(ps[i].requests('INVITE', callId), `INVITEs at participant ${i + 1}`).to.have.length(1);
        expect(ps[i].requests('CANCEL', callId), `CANCELs at participant ${i + 1}`).to.have.length(1);
      }
    }

    it('200 first, the other legs\' first 180 right behind it (same instant)', async () => {
      await race([{ peer: 0, status: '200 OK' }, { peer: 1, status: '180 Ringing' }, { peer: 2, status: '180 Ringing' }], 0);
    });

    it('180, 200, 180 in the same instant', async () => {
      await race([{ peer: 1, status: '180 Ringing' }, { peer: 0, status: '200 OK' }, { peer: 2, status: '180 Ringing' }], 0);
    });

    it('the other legs\' first 180 arrive 50 ms after the 200', async () => {
      await race([{ peer: 2, status: '200 OK' }, { peer: 0, status: '180 Ringing', delayMs: 50 }, { peer: 1, status: '180 Ringing' }], 2);
    });

    it('repeated: 200 and both 180s back to back, five calls in a row', async () => {
      for (let n = 0; n < 5; n++) {
        const w = n % 3;
        const others = [0, 1, 2].filter((i) => i !== w);
        await race([{ peer: w, status: '200 OK' }, ...others.map((i) => ({ peer: i, status: '180 Ringing' as const }))], w);
      }
    });
  });

  describe('answers crossing (raw UDP participants, ring_timeout = 2 s)', () => {
    let srv: TestServer;
    let api: ApiClient;
    const peers: Peer[] = [];

    after(() => {
      for (const p of peers) p.close();
    });
    clientSuite((suite) => ({ srv, api } = suite), { ini: '[groups]\nring_timeout = 2\n' });

    async function udpGroup(n: number) {
      const { accounts, uc, groupId, ps } = await udpParticipants(n);
      const caller = await createJsSipUa({ server: srv, ...uc });
      return { accounts, uc, groupId, ps, caller };
    }

    async function udpParticipants(n: number) {
      const accounts = await Promise.all(Array.from({ length: n }, () => newAccount(api, 'udp')));
      const uc = await newAccount(api, 'caller');
      const groupId = await newGroup(api, accounts.map((a) => a.id));
      const ps = await Promise.all(accounts.map((a) => Peer.open(a)));
      peers.push(...ps);
      await Promise.all(ps.map((p) => p.register(srv)));
      return { accounts, uc, groupId, ps };
    }

    const ok = (p: Peer, inv: SipRequest, tag: string) =>
      reply(inv, '200 OK', tag, [`Contact: <sip:${p.account.username}@127.0.0.1:${p.port}>`], makeAnswer({ sessionId: String(Date.now()) }));

    it('a participant answers as the ring timeout CANCELs it: the caller keeps its 480 and that leg is ACKed and hung up (BYE), not left connected', async () => {
      const { groupId, ps, caller } = await udpGroup(1);
      const [p] = ps;
      const out = caller.call(groupId);
      const inv = await p.waitRequest((r) => r.method === 'INVITE' && r.callId === out.callId, 3000, 'INVITE');
      p.send(reply(inv, '180 Ringing', 'late'), srv.sipPort);
      const cancel = await p.waitRequest((r) => r.method === 'CANCEL' && r.callId === out.callId, 4000, 'CANCEL at the ring timeout');
      // The 200 crosses the CANCEL: the INVITE is answered, the CANCEL then has nothing to cancel.
      p.send(ok(p, inv, 'late'), srv.sipPort);
      p.send(reply(cancel, '200 OK', null), srv.sipPort);
      const end = await out.failed(4000);
      expect(end.statusCode).to.equal(480);
      expect(end.reasonHeader).to.equal(NOBODY_ANSWERED);
      const ack = await p.waitRequest((r) => r.method === 'ACK' && r.callId === out.callId, 3000, 'ACK for the late 200');
      expect(ack.cseq!.seq).to.equal(inv.cseq!.seq);
      const bye = await p.waitRequest((r) => r.method === 'BYE' && r.callId === out.callId, 3000, 'BYE hanging up the late answer');
      expect(bye.toTag).to.equal('late');
      p.send(reply(bye, '200 OK', null), srv.sipPort);
      expect(out.responses.filter((c) => c >= 200 && c < 300), 'the late 2xx must not reach a caller that has its 480').to.deep.equal([]);
    });

    // A group call connects its first answer only: the second answer never reaches the caller (JsSIP
    // 3.13 would tear down its call on a 2xx from another leg); the proxy ACKs and BYEs that leg itself.
    it('two participants answer in the same instant: the caller gets the first answer only; the proxy ACKs and BYEs the second leg', async () => {
      const { accounts, uc, groupId, ps } = await udpParticipants(3);
      const caller = await createSipJsUa({ server: srv, ...uc });
      const out = caller.call(groupId);
      const inv0 = await ps[0].waitRequest((r) => r.method === 'INVITE', 3000, 'INVITE');
      const callId = inv0.callId;
      const invites = await Promise.all(ps.map((p) => p.waitRequest((r) => r.method === 'INVITE' && r.callId === callId, 3000, 'INVITE')));
      for (const [i, p] of ps.entries()) p.send(reply(invites[i], '180 Ringing', `t${i}`, [`Contact: <sip:${p.account.username}@127.0.0.1:${p.port}>`]), srv.sipPort);
      await out.progress();
      // Participants 1 and 2 answer back to back; participant 3 keeps ringing.
      ps[0].send(ok(ps[0], invites[0], 't0'), srv.sipPort);
      ps[1].send(ok(ps[1], invites[1], 't1'), srv.sipPort);
      await out.established();
      const cancel3 = await ps[2].waitRequest((r) => r.method === 'CANCEL' && r.callId === callId, 3000, 'CANCEL at participant 3');
      expect(cancel3.get('reason')).to.equal(COMPLETED_ELSEWHERE);
      ps[2].send(reply(cancel3, '200 OK', null), srv.sipPort);
      ps[2].send(reply(invites[2], '487 Request Terminated', 't2'), srv.sipPort);
      // Participant 2 may also get a CANCEL that crossed its 200: it has nothing left to cancel.
      const c2 = await ps[1].waitRequest((r) => r.method === 'CANCEL' && r.callId === callId, 1000, 'crossing CANCEL').catch(() => undefined);
      if (c2) ps[1].send(reply(c2, '200 OK', null), srv.sipPort);

      // The first answer is ACKed; the second answer is ACKed and hung up.
      await ps[0].waitRequest((r) => r.method === 'ACK' && r.callId === callId && r.toTag === 't0', 3000, 'ACK at participant 1');
      await ps[1].waitRequest((r) => r.method === 'ACK' && r.callId === callId && r.toTag === 't1', 3000, 'ACK at participant 2');
      const bye2 = await ps[1].waitRequest((r) => r.method === 'BYE' && r.callId === callId, 3000, 'BYE at participant 2 (second answer)');
      expect(bye2.toTag).to.equal('t1');
      ps[1].send(reply(bye2, '200 OK', null), srv.sipPort);
      // The second answer again, as if our ACK had been lost: it must not reach the caller either.
      ps[1].send(ok(ps[1], invites[1], 't1'), srv.sipPort);
      await sleep(500);
      expect(out.responses.filter((c) => c >= 200 && c < 300), 'exactly one answer reaches the caller').to.have.length(1);
      const answersOnWire = out.wire().filter((w) => w.dir === 'in').map((w) => parseMessage(Buffer.from(w.text, 'latin1')))
        .filter((m): m is SipResponse => m instanceof SipResponse && m.status >= 200 && m.status < 300 && m.cseq?.method === 'INVITE');
      expect(answersOnWire.map((m) => m.toTag), 'the 2xx the caller received, by to-tag').to.deep.equal(['t0']);
      expect(ps[1].requests('ACK', callId).map((r) => r.toTag), 'the retransmitted second answer ACKed again').to.deep.equal(['t1', 't1']);
      // The call with the first participant is still up.
      expect(ps[0].requests('BYE', callId), 'BYE at participant 1: the connected call was torn down').to.have.length(0);
      expect(out.state, 'caller still in the call').to.equal('Established');
      const cdr0 = (await new Cdrs(srv.wac.store).list()).find((c) => c.callId === callId);
      // The BYE of the extra dialog (to-tag t1) does not end the call: no record while it is up.
      expect(cdr0, 'call record written (ended) by the BYE of the second, extra dialog while the call is still up').to.equal(undefined);

      const hangUpAt = Date.now();
      const bye = out.session.bye();
      const bye1 = await ps[0].waitRequest((r) => r.method === 'BYE' && r.callId === callId, 3000, 'BYE at participant 1');
      expect(bye1.toTag).to.equal('t0');
      ps[0].send(reply(bye1, '200 OK', null), srv.sipPort);
      await bye;
      await out.terminated();
      const cdr = await cdrFor(srv, callId);
      expect(cdr).to.include({ answeredBy: accounts[0].id, result: 'answered' });
      expect(Date.parse(cdr.end), 'the record ends with the BYE of the answered dialog').to.be.at.least(hangUpAt - 5);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Raw UDP participant
// ---------------------------------------------------------------------------------------------

/** A response to `req` from a UDP UAS, echoing Via/From/To/Call-ID/CSeq/Record-Route. */
function reply(req: SipRequest, status: string, toTag: string | null, extra: string[] = [], body = ''): string {
  const lines = [`SIP/2.0 ${status}`];
  for (const h of req.headers) {
    if (h.key === 'to') lines.push(`To: ${h.value}${toTag && !req.toTag ? `;tag=${toTag}` : ''}`);
    else if (['via', 'from', 'call-id', 'cseq', 'record-route'].includes(h.key)) lines.push(`${h.name}: ${h.value}`);
  }
  if (body) lines.push('Content-Type: application/sdp');
  return [...lines, ...extra, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
}

/** A UDP peer that keeps every message it receives and answers nothing by itself. */
class Peer {
  readonly received: Array<{ at: number; m: SipMessage }> = [];

  private constructor(readonly udp: UdpPeer, readonly account: Account) {
    udp.socket.on('message', (data) => {
      const m = parseMessage(data);
      if (m) this.received.push({ at: Date.now(), m });
    });
  }

  static async open(account: Account): Promise<Peer> {
    return new Peer(await UdpPeer.open(), account);
  }

  get port(): number {
    return this.udp.port;
  }

  send(text: string, port: number): void {
    this.udp.send(text, port);
  }

  requests(method: string, callId: string): SipRequest[] {
    return this.received.map((r) => r.m).filter((m): m is SipRequest => m instanceof SipRequest && m.method === method && m.callId === callId);
  }

  async waitRequest(pred: (r: SipRequest) => boolean, ms: number, what: string): Promise<SipRequest> {
    let found: SipRequest | undefined;
    await waitUntil(() => {
      found = this.received.map((r) => r.m).find((m): m is SipRequest => m instanceof SipRequest && pred(m));
      return !!found;
    }, ms, `${this.account.username}: ${what}; got [${this.received.map((r) => (r.m instanceof SipRequest ? r.m.method : `${(r.m as SipResponse).status}`)).join(', ')}]`, 5);
    return found!;
  }

  async waitResponse(pred: (r: SipResponse) => boolean, ms: number, what: string): Promise<SipResponse> {
    let found: SipResponse | undefined;
    await waitUntil(() => {
      found = this.received.map((r) => r.m).find((m): m is SipResponse => m instanceof SipResponse && pred(m));
      return !!found;
    }, ms, `${this.account.username}: ${what}`, 5);
    return found!;
  }

  /** REGISTER (challenge, then digest) a plain Contact on this UDP socket. */
  async register(srv: TestServer): Promise<void> {
    const { username, password } = this.account;
    const callId = `reg-${rnd()}`;
    const msg = (cseq: number, auth?: string) => [
      'REGISTER sip:wac.local SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.1:${this.port};rport;branch=z9hG4bK${rnd()}`,
      'Max-Forwards: 70', `From: <sip:${username}@wac.local>;tag=${rnd()}`, `To: <sip:${username}@wac.local>`, `Call-ID: ${callId}`,
      `CSeq: ${cseq} REGISTER`, `Contact: <sip:${username}@127.0.0.1:${this.port}>`, 'Expires: 600', ...(auth ? [`Authorization: ${auth}`] : []),
      'Content-Length: 0', '', ''].join('\r\n');
    this.send(msg(1), srv.sipPort);
    const ch = await this.waitResponse((r) => r.callId === callId && r.status === 401, 3000, 'REGISTER challenge');
    this.send(msg(2, digestAnswer(ch.get('www-authenticate')!, username, password, 'REGISTER', 'sip:wac.local')), srv.sipPort);
    const ok = await this.waitResponse((r) => r.callId === callId && r.cseq!.seq === 2 && r.status >= 200, 3000, 'REGISTER answer');
    expect(ok.status, `${username}: REGISTER`).to.equal(200);
  }

  close(): void {
    this.udp.close();
  }
}
