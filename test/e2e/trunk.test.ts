/**
 * SIP trunks with SIPp as the trunk (UDP, loopback) and real JsSIP users over WebSocket
 * (issue 5, "SIP trunks"):
 *  - inbound: the trunk's INVITE to a SIP-mapped number rings the owner (a user, or a group's
 *    participants); BYE works from both sides across the WebSocket <-> UDP bridge;
 *    an unmapped number gets 404; a source address not in allow[] is challenged (407) and reaches
 *    nobody;
 *  - outbound: a user dialling a number reaches the trunk with its mapped identity in From and
 *    P-Asserted-Identity (its own From in the responses it gets), the trunk's 407/401 challenge is
 *    answered with [trunk] username/password, BYE works from both sides; a user with no mapping
 *    gets 403 and nothing reaches the trunk;
 *  - call detail records of kinds trunk-in and trunk-out.
 * Skipped when sipp is missing, unless CI is set (then it fails).
 */
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { expect } from 'chai';
import { Cdr, Cdrs } from '../../shared/model/cdrs';
import { adminClient, ApiClient } from '../support/api';
import {
  createJsSipUa, JsSipSession, JsSipUa, rawHeader, sleep, startLine, stopAllJsSipUas, waitUntil, wireMatching,
} from '../support/jssip';
import { startTestServer, TestServer } from '../support/server';
import {
  describeRun, findSipp, freeUdpPort, killAllSipp, makeWorkDir, parseSippMessages, SippMessage, SippProcess,
  SippResult, sippVersion, startSipp, statCount, waitListening,
} from '../support/sipp';

/** Each sipp gives up (and fails) after this many seconds. */
const SIPP_TIMEOUT_S = 15;
/** Bound for JsSIP waits that depend on a SIPp step (SIPp retransmits every 500 ms). */
const WAIT_MS = 8000;
const TRUNK = { name: 'sipp', domain: 'pstn.example', username: 'wac-trunk', password: 'trunk-Secret-9' };
const USERS = {
  carol: 'carol-Secret-1', // mapped 205: inbound calls
  alice: 'alice-Secret-2', // mapped 300: outbound calls
  bob: 'bob-Secret-3', // no mapping
  dave: 'dave-Secret-4', // group participant
  erin: 'erin-Secret-5', // group participant
};
type Name = keyof typeof USERS;
const IN_NUMBER = '205';
const GROUP_NUMBER = '206';
const OUT_IDENTITY = '300';
const DIALLED = '5551234';

// ------------------------------------------------------------------------------------------------
// Small SIP text helpers
// ------------------------------------------------------------------------------------------------

/**
 * Every value of header `name` (or its compact form), comma-separated lists split (outside <>/"")
 * unless `split` is false (credentials: their parameters are comma-separated).
 */
function headerValues(text: string, name: string, compact?: string, split = true): string[] {
  const head = text.split('\r\n\r\n')[0] ?? '';
  const out: string[] = [];
  for (const line of head.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const h = line.slice(0, i).trim().toLowerCase();
    if (h !== name.toLowerCase() && !(compact && h === compact.toLowerCase())) continue;
    let depth = 0;
    let quoted = false;
    let cur = '';
    for (const ch of line.slice(i + 1)) {
      if (ch === '"') quoted = !quoted;
      else if (!quoted && ch === '<') depth++;
      else if (!quoted && ch === '>') depth--;
      if (split && ch === ',' && !quoted && depth === 0) {
        out.push(cur.trim());
        cur = '';
      } else cur += ch;
    }
    if (cur.trim() !== '') out.push(cur.trim());
  }
  return out;
}

/** user@host of the (first) SIP URI in a header value or Request-URI. */
function userHost(value: string | undefined): string | undefined {
  const m = /sips?:([^@;>\s]+)@([^;>:\s]+)/i.exec(value ?? '');
  return m ? `${m[1]}@${m[2]}` : undefined;
}

function tagOf(value: string | undefined): string | undefined {
  return /;\s*tag=([^;\s]+)/i.exec(value ?? '')?.[1];
}

function branchOf(via: string | undefined): string | undefined {
  return /;\s*branch=([^;\s]+)/i.exec(via ?? '')?.[1];
}

function digestParams(value: string): Record<string, string> {
  const p: Record<string, string> = {};
  const body = value.replace(/^\s*Digest\s+/i, '');
  for (const m of body.matchAll(/([a-z0-9-]+)\s*=\s*("([^"]*)"|[^,\s]+)/gi)) p[m[1].toLowerCase()] = m[3] ?? m[2];
  return p;
}

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

/** The digest `response` the credentials must produce for this request (RFC 2617 §3.2.2). */
function expectedDigest(p: Record<string, string>, method: string, password: string): string {
  const ha1 = md5(`${p.username}:${p.realm}:${password}`);
  const ha2 = md5(`${method}:${p.uri}`);
  return p.qop ? md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`) : md5(`${ha1}:${p.nonce}:${ha2}`);
}

function requests(msgs: SippMessage[], dir: 'sent' | 'received', method: string): SippMessage[] {
  return msgs.filter((m) => m.dir === dir && startLine(m.text).startsWith(`${method} `));
}

function responses(msgs: SippMessage[], dir: 'sent' | 'received', status: number): SippMessage[] {
  return msgs.filter((m) => m.dir === dir && startLine(m.text).startsWith(`SIP/2.0 ${status} `));
}

function requestUri(text: string): string {
  return startLine(text).split(' ')[1] ?? '';
}

/** Datagrams arriving at a UDP port while nothing else listens there (to prove nothing reached it). */
class UdpSniffer {
  readonly seen: string[] = [];
  private constructor(private readonly sock: dgram.Socket) {
    sock.on('message', (m) => this.seen.push(m.toString('latin1')));
  }
  static open(port: number): Promise<UdpSniffer> {
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket('udp4');
      s.once('error', reject);
      s.bind(port, '127.0.0.1', () => resolve(new UdpSniffer(s)));
    });
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }
}

// ------------------------------------------------------------------------------------------------

describe('SIP trunk: SIPp as the trunk over UDP, JsSIP users over WebSocket', function () {
  this.timeout(60000);
  let sipp: string;
  let server: TestServer;
  let admin: ApiClient;
  let dir: string;
  /** Where the trunk (a SIPp UAS, or a sniffer) listens: [trunk.sipp] port. */
  let trunkPort: number;
  const id = {} as Record<Name, string>;
  let groupId: string;
  /** Call-IDs of the calls whose records test the CDRs. */
  const cdrCalls: { trunkIn?: string; trunkInGroup?: string; trunkInCancelled?: string; trunkOut?: string; trunkOutBusy?: string } = {};
  let sniffer: UdpSniffer | undefined;

  const remote = (): string => `127.0.0.1:${server.sipPort}`;
  const ua = (name: Name): Promise<JsSipUa> => createJsSipUa({ server, username: name, password: USERS[name], timeoutMs: WAIT_MS });

  /** The trunk calling in: a SIPp UAC from 127.0.0.1 (or `localIp`) to sip:<number>@server. */
  async function trunkCalls(name: string, scenario: string, number: string, localIp?: string): Promise<SippProcess> {
    return startSipp(sipp, dir, {
      name, scenario, remote: remote(), localPort: await freeUdpPort(), localIp, service: number, timeoutS: SIPP_TIMEOUT_S,
    });
  }

  /** The trunk answering: a SIPp UAS on the trunk's port. */
  async function trunkAnswers(name: string, scenario: string, extraArgs: string[] = []): Promise<SippProcess> {
    const p = await startSipp(sipp, dir, {
      name, scenario, remote: remote(), localPort: trunkPort, timeoutS: SIPP_TIMEOUT_S, extraArgs,
    });
    if (!(await waitListening(trunkPort))) {
      p.kill();
      expect.fail(`the SIPp UAS ${name} never bound port ${trunkPort}\n${describeRun(await p.done)}`);
    }
    return p;
  }

  function expectOneSuccessfulCall(r: SippResult): void {
    expect(r.code, describeRun(r)).to.equal(0);
    expect(statCount(r.stats, 'SuccessfulCall(C)'), describeRun(r)).to.equal(1);
    expect(statCount(r.stats, 'FailedCall(C)'), describeRun(r)).to.equal(0);
  }

  /** The caller's session confirmed (ACK sent); fails at once, with what happened, if the call failed. */
  async function established(s: JsSipSession): Promise<void> {
    const r = await s.latches.waitAny(['confirmed', 'failed'], WAIT_MS, `${s.owner.label}: call confirmed`, () => s.describe());
    if (r.name === 'failed') throw new Error(`the call failed: ${JSON.stringify(r.value)}\n${s.describe()}`);
  }

  /** The record of a call, once written (records are written asynchronously after the call ends). */
  async function cdrOf(callId: string): Promise<Cdr> {
    const cdrs = new Cdrs(server.wac.store);
    let found: Cdr | undefined;
    await waitUntil(async () => {
      found = (await cdrs.list()).find((c) => c.callId === callId);
      return found !== undefined;
    }, 3000, `a call record with Call-ID ${callId}`);
    return found!;
  }

  before(async function () {
    const bin = findSipp();
    if (!bin) {
      if (process.env.CI) throw new Error('sipp is not installed (Debian package sip-tester); CI must install it (.ci/setup)');
      console.warn('    sipp not installed (Debian package sip-tester): skipping the SIP trunk tests; under CI this fails');
      this.skip();
      return;
    }
    sipp = bin;
    expect(sippVersion(sipp), 'sipp -v').to.match(/SIPp v\d/);
    dir = makeWorkDir();
    trunkPort = await freeUdpPort();
    server = await startTestServer({
      ini: [
        `[trunk.${TRUNK.name}]`,
        'address = 127.0.0.1',
        `port = ${trunkPort}`,
        'transport = udp',
        'allow[] = 127.0.0.1',
        `domain = ${TRUNK.domain}`,
        `username = ${TRUNK.username}`,
        `password = ${TRUNK.password}`,
        '',
      ].join('\n'),
    });
    for (const [name, password] of Object.entries(USERS) as Array<[Name, string]>) {
      id[name] = (await server.users.create({ domain: server.domain, username: name, password })).id;
    }
    admin = await adminClient(server);
    const g = await admin.post('/usersgroups', { name: 'Hotline', participants: [id.dave, id.erin] });
    expect(g.status, JSON.stringify(g.body)).to.equal(201);
    groupId = g.body.id;
    for (const [ownerUri, username] of [
      [`wac-user:${id.carol}`, IN_NUMBER],
      [`wac-group:${groupId}`, GROUP_NUMBER],
      [`wac-user:${id.alice}`, OUT_IDENTITY],
    ]) {
      const r = await admin.post('/sipMappings', { ownerUri, credential: { username } });
      expect(r.status, `POST /sipMappings ${username}: ${JSON.stringify(r.body)}`).to.equal(201);
    }
  });

  afterEach(async () => {
    killAllSipp();
    await sniffer?.close();
    sniffer = undefined;
    await stopAllJsSipUas();
  });

  after(async () => {
    killAllSipp();
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('inbound: the trunk calls a SIP-mapped number', () => {
    it('rings the mapped user over WebSocket, who answers; the trunk hangs up (BYE UDP -> WS)', async () => {
      const carol = await ua('carol');
      const call = await trunkCalls('in-trunk-bye', 'trunk_uac_call.xml', IN_NUMBER);
      const inc = await carol.nextIncoming(WAIT_MS);
      const invite = wireMatching(carol.wire, 'in', /^INVITE /).at(-1)!;
      expect(userHost(rawHeader(invite.text, 'From', 'f')), 'From of the INVITE at the user').to.equal('+34600111222@127.0.0.1');
      // WebSocket <-> UDP: one Record-Route per transport, our flow token in both.
      const rr = headerValues(invite.text, 'Record-Route');
      expect(rr, `Record-Route at the user:\n${invite.text}`).to.have.length(2);
      expect(rr[0], 'top Record-Route (the WebSocket side)').to.match(new RegExp(`@127\\.0\\.0\\.1:${server.wsPort};transport=ws;lr>$`));
      expect(rr[1], 'second Record-Route (the UDP side)').to.match(new RegExp(`@127\\.0\\.0\\.1:${server.sipPort};lr>$`));
      await inc.answer();
      await inc.confirmed(WAIT_MS);
      const end = await inc.ended(WAIT_MS);
      expect(end.originator, inc.describe()).to.equal('remote');
      expect(end.method, inc.describe()).to.equal('BYE');
      const r = await call.done;
      expectOneSuccessfulCall(r);
      // The trunk saw the 200 with the same two Record-Route URIs, UDP one last (its next hop).
      const ok = responses(parseSippMessages(r.messages), 'received', 200)[0];
      expect(headerValues(ok.text, 'Record-Route'), ok.text).to.deep.equal(rr);
      cdrCalls.trunkIn = inc.callId;
    });

    it('the user hangs up: the BYE reaches the trunk (WS -> UDP)', async () => {
      const carol = await ua('carol');
      const call = await trunkCalls('in-user-bye', 'trunk_uac_call_wait_bye.xml', IN_NUMBER);
      const inc = await carol.nextIncoming(WAIT_MS);
      await inc.answer();
      await inc.confirmed(WAIT_MS);
      const end = await inc.hangup();
      expect(end.originator, inc.describe()).to.equal('local');
      const r = await call.done;
      expectOneSuccessfulCall(r);
      const byes = requests(parseSippMessages(r.messages), 'received', 'BYE');
      expect(byes, describeRun(r)).to.have.length.at.least(1);
      expect(rawHeader(byes[0].text, 'Call-ID', 'i')).to.equal(inc.callId);
      // JsSIP got the trunk's 200 to its BYE.
      const byeOk = wireMatching(carol.wire, 'in', /^SIP\/2\.0 200/).filter((w) => /BYE$/.test(rawHeader(w.text, 'CSeq') ?? ''));
      expect(byeOk, carol.describe()).to.have.length(1);
    });

    it('a number mapped to a group rings every participant; one answers, the other is CANCELled "Call completed elsewhere"', async () => {
      const [dave, erin] = [await ua('dave'), await ua('erin')];
      const call = await trunkCalls('in-group', 'trunk_uac_call.xml', GROUP_NUMBER);
      const [d, e] = await Promise.all([dave.nextIncoming(WAIT_MS), erin.nextIncoming(WAIT_MS)]);
      await d.answer();
      const gone = await e.failed(WAIT_MS);
      expect(gone.originator, e.describe()).to.equal('remote');
      expect(gone.method, e.describe()).to.equal('CANCEL');
      expect(gone.reasonHeader, e.describe()).to.match(/^SIP\s*;\s*cause=200\s*;\s*text="Call completed elsewhere"$/);
      await d.confirmed(WAIT_MS);
      const end = await d.ended(WAIT_MS);
      expect(end.originator, d.describe()).to.equal('remote');
      expectOneSuccessfulCall(await call.done);
      cdrCalls.trunkInGroup = d.callId;
    });

    it('the trunk cancels while the user rings: the user sees the CANCEL, the trunk gets 487', async () => {
      const carol = await ua('carol');
      const call = await trunkCalls('in-cancel', 'trunk_uac_cancel.xml', IN_NUMBER);
      const inc = await carol.nextIncoming(WAIT_MS);
      const f = await inc.failed(WAIT_MS);
      expect(f.originator, inc.describe()).to.equal('remote');
      expect(f.method, inc.describe()).to.equal('CANCEL');
      expectOneSuccessfulCall(await call.done);
      cdrCalls.trunkInCancelled = inc.callId;
    });

    it('a mapped number whose owner has no registered device gets 480', async () => {
      expect(await server.bindings('alice'), 'bindings of alice (mapped 300)').to.equal(0);
      expectOneSuccessfulCall(await (await trunkCalls('in-no-device', 'trunk_uac_480.xml', OUT_IDENTITY)).done);
    });

    it('an unmapped number (or a username) gets 404, and nothing goes back out to the trunk (no trunk-to-trunk relay)', async () => {
      sniffer = await UdpSniffer.open(trunkPort);
      const unmapped = await trunkCalls('in-unmapped', 'trunk_uac_404.xml', '299');
      expectOneSuccessfulCall(await unmapped.done);
      // A username is no SIP-mapped identity: the trunk cannot reach users by name.
      const byName = await trunkCalls('in-username', 'trunk_uac_404.xml', 'carol');
      expectOneSuccessfulCall(await byName.done);
      // A number that a user could dial out is no target for the trunk itself either.
      const relay = await trunkCalls('in-relay', 'trunk_uac_404.xml', DIALLED);
      expectOneSuccessfulCall(await relay.done);
      await sleep(300);
      expect(sniffer.seen, 'datagrams at the trunk port').to.deep.equal([]);
    });

    it('an INVITE from a source address not in allow[] is challenged (407) and reaches nobody', async () => {
      const carol = await ua('carol');
      sniffer = await UdpSniffer.open(trunkPort);
      const toUser = await trunkCalls('untrusted-user', 'trunk_uac_407.xml', IN_NUMBER, '127.0.0.2');
      const r = await toUser.done;
      expectOneSuccessfulCall(r);
      const challenge = responses(parseSippMessages(r.messages), 'received', 407)[0];
      expect(rawHeader(challenge.text, 'Proxy-Authenticate'), challenge.text).to.match(/^Digest .*realm="/i);
      // Not a way out either (no open relay, no toll fraud).
      const toTrunk = await trunkCalls('untrusted-out', 'trunk_uac_407.xml', DIALLED, '127.0.0.2');
      expectOneSuccessfulCall(await toTrunk.done);
      await sleep(300);
      expect(carol.incomingSessions, carol.describe()).to.have.length(0);
      expect(wireMatching(carol.wire, 'in', /^INVITE /), carol.describe()).to.have.length(0);
      expect(sniffer.seen, 'datagrams at the trunk port').to.deep.equal([]);
    });
  });

  describe('outbound: a user dials a number', () => {
    /** Checks the INVITE(s) the trunk got: Request-URI, mapped identity, no credentials of ours. */
    function checkTrunkInvite(inv: SippMessage, callerTag: string): void {
      const t = inv.text;
      expect(requestUri(t), t).to.equal(`sip:${DIALLED}@${TRUNK.domain}`);
      expect(userHost(rawHeader(t, 'From', 'f')), `From at the trunk:\n${t}`).to.equal(`${OUT_IDENTITY}@${server.domain}`);
      expect(tagOf(rawHeader(t, 'From', 'f')), `From tag at the trunk:\n${t}`).to.equal(callerTag);
      const pai = headerValues(t, 'P-Asserted-Identity');
      expect(pai, `P-Asserted-Identity at the trunk:\n${t}`).to.have.length(1);
      expect(userHost(pai[0])).to.equal(`${OUT_IDENTITY}@${server.domain}`);
      expect(t, 'the caller\'s own name must not leak to the trunk').not.to.match(/sip:alice@/);
      for (const h of headerValues(t, 'Proxy-Authorization', undefined, false)) {
        expect(h, `our realm's credentials went to the trunk:\n${t}`).not.to.include(`realm="${server.domain}"`);
      }
      const rr = headerValues(t, 'Record-Route');
      expect(rr, `Record-Route at the trunk:\n${t}`).to.have.length(2);
      expect(rr[0], 'top Record-Route (the UDP side)').to.match(new RegExp(`@127\\.0\\.0\\.1:${server.sipPort};lr>$`));
      expect(rr[1], 'second Record-Route (the WebSocket side)').to.match(new RegExp(`@127\\.0\\.0\\.1:${server.wsPort};transport=ws;lr>$`));
    }

    /** The caller's view: its own From (URI and tag) on every response, never the mapped identity. */
    function checkCallerView(caller: JsSipUa, callId: string): string {
      const sent = wireMatching(caller.wire, 'out', /^INVITE /).filter((w) => rawHeader(w.text, 'Call-ID', 'i') === callId);
      const ownFrom = rawHeader(sent[0].text, 'From', 'f')!;
      const got = caller.wire.filter((w) => w.dir === 'in' && /^SIP\/2\.0 [12]\d\d/.test(startLine(w.text))
        && rawHeader(w.text, 'Call-ID', 'i') === callId && /INVITE$/.test(rawHeader(w.text, 'CSeq') ?? ''));
      expect(got.length, caller.describe()).to.be.at.least(1);
      for (const w of got) {
        const from = rawHeader(w.text, 'From', 'f');
        expect(userHost(from), `From in "${startLine(w.text)}" at the caller`).to.equal(`alice@${server.domain}`);
        expect(tagOf(from), `From tag in "${startLine(w.text)}" at the caller`).to.equal(tagOf(ownFrom));
        expect(w.text, 'P-Asserted-Identity / mapped identity at the caller').not.to.match(new RegExp(`sip:${OUT_IDENTITY}@`));
      }
      return tagOf(ownFrom)!;
    }

    it('reaches the trunk with the mapped identity in From and P-Asserted-Identity; the caller hangs up (BYE WS -> UDP)', async () => {
      const trunk = await trunkAnswers('out-caller-bye', 'trunk_uas_answer.xml');
      const alice = await ua('alice');
      const s = alice.call(DIALLED);
      await established(s);
      const tag = checkCallerView(alice, s.callId);
      const end = await s.hangup();
      expect(end.originator).to.equal('local');
      const r = await trunk.done;
      expectOneSuccessfulCall(r);
      const msgs = parseSippMessages(r.messages);
      const invites = requests(msgs, 'received', 'INVITE');
      expect(invites, describeRun(r)).to.have.length(1);
      checkTrunkInvite(invites[0], tag);
      expect(requests(msgs, 'received', 'BYE'), describeRun(r)).to.have.length.at.least(1);
      cdrCalls.trunkOut = s.callId;
    });

    it('the trunk hangs up: its BYE reaches the caller (UDP -> WS)', async () => {
      const trunk = await trunkAnswers('out-trunk-bye', 'trunk_uas_answer_bye.xml');
      const alice = await ua('alice');
      const s = alice.call(DIALLED);
      await established(s);
      const end = await s.ended(WAIT_MS);
      expect(end.originator, s.describe()).to.equal('remote');
      expect(end.method, s.describe()).to.equal('BYE');
      const r = await trunk.done;
      expectOneSuccessfulCall(r);
      checkTrunkInvite(requests(parseSippMessages(r.messages), 'received', 'INVITE')[0], checkCallerView(alice, s.callId));
    });

    for (const challenge of [407, 401] as const) {
      it(`the trunk's ${challenge} challenge is answered with [trunk] username/password (same CSeq, new branch); the call completes`, async () => {
        const trunk = await trunkAnswers(`out-auth-${challenge}`, `trunk_uas_auth_${challenge}.xml`,
          ['-key', 'trunk_user', TRUNK.username, '-key', 'trunk_pass', TRUNK.password]);
        const alice = await ua('alice');
        const s = alice.call(DIALLED);
        await established(s);
        const tag = checkCallerView(alice, s.callId);
        await s.hangup();
        const r = await trunk.done;
        expectOneSuccessfulCall(r);
        const msgs = parseSippMessages(r.messages);
        const invites = requests(msgs, 'received', 'INVITE');
        expect(invites, describeRun(r)).to.have.length(2);
        const [first, retry] = invites.map((m) => m.text);
        const authHeader = challenge === 407 ? 'Proxy-Authorization' : 'Authorization';
        expect(headerValues(first, authHeader, undefined, false), `first INVITE at the trunk:\n${first}`).to.deep.equal([]);
        checkTrunkInvite(invites[0], tag);
        checkTrunkInvite(invites[1], tag);
        const creds = headerValues(retry, authHeader, undefined, false).map(digestParams).filter((p) => p.realm === TRUNK.domain);
        expect(creds, `${authHeader} for realm ${TRUNK.domain} in the retried INVITE:\n${retry}`).to.have.length(1);
        const p = creds[0];
        expect(p.username).to.equal(TRUNK.username);
        expect(p.uri, 'digest uri = the Request-URI').to.equal(requestUri(retry));
        expect(p.nonce).to.match(/x4f2a$/);
        expect(p.opaque).to.equal('trunk-opaque');
        expect(p.response, `digest response in:\n${retry}`).to.equal(expectedDigest(p, 'INVITE', TRUNK.password));
        expect(rawHeader(retry, 'CSeq'), 'CSeq of the retry').to.equal(rawHeader(first, 'CSeq'));
        expect(rawHeader(retry, 'Call-ID', 'i')).to.equal(rawHeader(first, 'Call-ID', 'i'));
        expect(branchOf(rawHeader(retry, 'Via', 'v')), 'Via branch of the retry').not.to.equal(branchOf(rawHeader(first, 'Via', 'v')));
        // The trunk's challenge stays between the server and the trunk.
        const seen = alice.wire.filter((w) => w.dir === 'in' && /^SIP\/2\.0 40[17]/.test(startLine(w.text)));
        for (const w of seen) {
          expect(w.text, `the trunk's challenge reached the caller:\n${w.text}`).not.to.include(TRUNK.domain);
        }
      });
    }

    it('the To of the INVITE at the trunk names the trunk\'s domain ([trunk] domain: "host of the Request-URI and To"); the caller keeps its own To', async () => {
      const trunk = await trunkAnswers('out-to', 'trunk_uas_answer.xml');
      const alice = await ua('alice');
      const s = alice.call(DIALLED);
      await established(s);
      await s.hangup();
      const r = await trunk.done;
      expectOneSuccessfulCall(r);
      const inv = requests(parseSippMessages(r.messages), 'received', 'INVITE')[0].text;
      expect(userHost(rawHeader(inv, 'To', 't')), `To at the trunk:\n${inv}`).to.equal(`${DIALLED}@${TRUNK.domain}`);
      const ok = wireMatching(alice.wire, 'in', /^SIP\/2\.0 200/).find((w) => rawHeader(w.text, 'Call-ID', 'i') === s.callId && /INVITE$/.test(rawHeader(w.text, 'CSeq') ?? ''))!;
      expect(userHost(rawHeader(ok.text, 'To', 't')), `To in the 200 at the caller:\n${ok.text}`).to.equal(`${DIALLED}@${server.domain}`);
    });

    it('a P-Asserted-Identity the caller forges is replaced by its mapped identity', async () => {
      const trunk = await trunkAnswers('out-forged-pai', 'trunk_uas_answer.xml');
      const alice = await ua('alice');
      const s = alice.call(DIALLED, { extraHeaders: ['P-Asserted-Identity: <sip:666@wac.local>'] });
      await established(s);
      const tag = checkCallerView(alice, s.callId);
      await s.hangup();
      const r = await trunk.done;
      expectOneSuccessfulCall(r);
      const inv = requests(parseSippMessages(r.messages), 'received', 'INVITE')[0];
      checkTrunkInvite(inv, tag);
      expect(inv.text, 'a forged identity reached the trunk').not.to.match(/sip:666@/);
    });

    it('the caller cancels while the trunk rings: the trunk gets a CANCEL matching its INVITE, the caller 487', async () => {
      const trunk = await trunkAnswers('out-cancel', 'trunk_uas_ring_cancel.xml');
      const alice = await ua('alice');
      const s = alice.call(DIALLED);
      await s.progress(WAIT_MS);
      s.terminate();
      const f = await s.failed(WAIT_MS);
      expect(f.originator, s.describe()).to.equal('local');
      const r = await trunk.done;
      expectOneSuccessfulCall(r);
      const msgs = parseSippMessages(r.messages);
      const inv = requests(msgs, 'received', 'INVITE')[0].text;
      const cancel = requests(msgs, 'received', 'CANCEL')[0].text;
      expect(requestUri(cancel), 'CANCEL Request-URI').to.equal(requestUri(inv));
      expect(rawHeader(cancel, 'Via', 'v'), 'CANCEL top Via (RFC 3261 9.1)').to.equal(rawHeader(inv, 'Via', 'v'));
      for (const h of ['From', 'To', 'Call-ID']) expect(rawHeader(cancel, h), `CANCEL ${h}`).to.equal(rawHeader(inv, h));
      expect(rawHeader(cancel, 'CSeq'), 'CANCEL CSeq').to.equal(rawHeader(inv, 'CSeq')!.replace(/INVITE$/, 'CANCEL'));
      // The trunk's 487 reached the caller, with its own From.
      expect(wireMatching(alice.wire, 'in', /^SIP\/2\.0 487/).filter((w) => rawHeader(w.text, 'Call-ID', 'i') === s.callId), alice.describe()).to.have.length(1);
      checkCallerView(alice, s.callId);
    });

    it('the trunk answers busy: the caller gets 486 (its own From)', async () => {
      const trunk = await trunkAnswers('out-busy', 'trunk_uas_busy.xml');
      const alice = await ua('alice');
      const s = alice.call(DIALLED);
      const f = await s.failed(WAIT_MS);
      expect(f.statusCode, s.describe()).to.equal(486);
      checkCallerView(alice, s.callId);
      expectOneSuccessfulCall(await trunk.done);
      cdrCalls.trunkOutBusy = s.callId;
    });

    it('a user with no SIP mapping gets 403 and nothing reaches the trunk', async () => {
      sniffer = await UdpSniffer.open(trunkPort);
      const bob = await ua('bob');
      const s = bob.call(DIALLED);
      const f = await s.failed(WAIT_MS);
      expect(f.statusCode, s.describe()).to.equal(403);
      await sleep(300);
      expect(sniffer.seen, 'datagrams at the trunk port').to.deep.equal([]);
    });
  });

  describe('call detail records', () => {
    it('an answered inbound trunk call: kind trunk-in, callee = the mapped user, answered', async function () {
      if (!cdrCalls.trunkIn) throw new Error('the inbound call test did not complete: no call to look up');
      const c = await cdrOf(cdrCalls.trunkIn);
      expect(c.kind, JSON.stringify(c)).to.equal('trunk-in');
      expect(c.callee, JSON.stringify(c)).to.equal(id.carol);
      expect(c.answeredBy, JSON.stringify(c)).to.equal(id.carol);
      expect(c.result, JSON.stringify(c)).to.equal('answered');
      expect(c.code, JSON.stringify(c)).to.equal(200);
      expect(c.answer, JSON.stringify(c)).to.be.a('string');
      expect(c.parties, JSON.stringify(c)).to.include(id.carol);
    });

    it('an answered outbound trunk call: kind trunk-out, caller = the user, callee = the dialled number, answered', async function () {
      if (!cdrCalls.trunkOut) throw new Error('the outbound call test did not complete: no call to look up');
      const c = await cdrOf(cdrCalls.trunkOut);
      expect(c.kind, JSON.stringify(c)).to.equal('trunk-out');
      expect(c.caller, JSON.stringify(c)).to.equal(id.alice);
      expect(c.callee, JSON.stringify(c)).to.equal(DIALLED);
      expect(c.result, JSON.stringify(c)).to.equal('answered');
      expect(c.code, JSON.stringify(c)).to.equal(200);
      expect(c.parties, JSON.stringify(c)).to.include(id.alice);
    });

    it('an inbound trunk call to a group number: kind trunk-in, callee = the group, answered by the participant', async function () {
      if (!cdrCalls.trunkInGroup) throw new Error('the inbound group call test did not complete: no call to look up');
      const c = await cdrOf(cdrCalls.trunkInGroup);
      expect(c.kind, JSON.stringify(c)).to.equal('trunk-in');
      expect(c.callee, JSON.stringify(c)).to.equal(groupId);
      expect(c.answeredBy, JSON.stringify(c)).to.equal(id.dave);
      expect(c.result, JSON.stringify(c)).to.equal('answered');
    });

    it('an inbound trunk call cancelled by the trunk: kind trunk-in, result cancelled, code 487', async function () {
      if (!cdrCalls.trunkInCancelled) throw new Error('the inbound CANCEL test did not complete: no call to look up');
      const c = await cdrOf(cdrCalls.trunkInCancelled);
      expect(c.kind, JSON.stringify(c)).to.equal('trunk-in');
      expect(c.callee, JSON.stringify(c)).to.equal(id.carol);
      expect(c.result, JSON.stringify(c)).to.equal('cancelled');
      expect(c.code, JSON.stringify(c)).to.equal(487);
      expect(c.answer, JSON.stringify(c)).to.equal(null);
    });

    it('an outbound trunk call refused busy: kind trunk-out, result busy, code 486', async function () {
      if (!cdrCalls.trunkOutBusy) throw new Error('the busy outbound call test did not complete: no call to look up');
      const c = await cdrOf(cdrCalls.trunkOutBusy);
      expect(c.kind, JSON.stringify(c)).to.equal('trunk-out');
      expect(c.callee, JSON.stringify(c)).to.equal(DIALLED);
      expect(c.result, JSON.stringify(c)).to.equal('busy');
      expect(c.code, JSON.stringify(c)).to.equal(486);
      expect(c.answer, JSON.stringify(c)).to.equal(null);
    });
  });
});
