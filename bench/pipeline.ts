/**
 * `npm run bench:pipeline`: the CPU our own code spends per REGISTER+digest, per call to one user and
 * per group call, with the sockets taken out.
 *
 * The compiled server runs in this process (this file runs as dist/bench/pipeline.js). Its UDP socket is fed by emitting 'message' on it,
 * and what it sends is captured instead of reaching the kernel, so no datagram leaves the process. The
 * client side (building requests, answering them) is timed and subtracted. Comparing these figures
 * with `npm run bench`'s µs/op tells how much of an operation is our JS and how much is sockets,
 * event-loop wake-ups and the other process sharing the cores. The calls are the bench's scenarios
 * (`uac_call.xml`, `uas_answer.xml`, `uas_ring_cancel.xml`) without their pauses: a trusted trunk
 * calls `callee` or `group1`; each leg answers 100 and 180, the answering leg then 200, after every
 * leg's 180; the others answer the CANCEL with 200 and 487; the caller ACKs and hangs up at once.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../shared/config';
import { createLogger } from '../shared/log';
import { EmbeddedStore } from '../shared/store/embedded';
import { answerChallenge } from '../signaling/auth/digest';
import { SipMessage, SipRequest, SipResponse } from '../signaling/sip/message';
import { parseNameAddr } from '../signaling/sip/name-addr';
import { parseMessage } from '../signaling/sip/parser';
import { createResponse } from '../signaling/sip/response';
import { startWac } from '../wac';
import { loadUser, passwordOf, provision } from './lib/provision';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PER_ROUND = Number(process.env.PER_ROUND ?? 10000);
const SCENARIOS = (process.env.SCENARIOS ?? 'register,call,group').split(',').filter(Boolean);
const DOMAIN = 'wac.local';
const USERS = 200;
const IN_FLIGHT = 50;
const CALLER_PORT = 25000;
/** The registered ends of calls, as in the bench: `callee` answers, so does g1m1; g1m2 and g1m3 only ring. */
const LEGS = [
  { user: 'callee', port: 30000, answers: true },
  { user: 'g1m1', port: 30001, answers: true },
  { user: 'g1m2', port: 30002, answers: false },
  { user: 'g1m3', port: 30003, answers: false },
];
const SDP = Buffer.from([
  'v=0', 'o=user1 53655765 2353687637 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
  'm=audio 6000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', '',
].join('\r\n'));

// Only the first socket created is the server's SIP/UDP one (startSignaling opens UDP before TCP).
let serverSocket: dgram.Socket | null = null;
const created = dgram.createSocket;
(dgram as { createSocket: typeof dgram.createSocket }).createSocket = ((...args: Parameters<typeof dgram.createSocket>) => {
  const s = created(...args);
  serverSocket ??= s;
  return s;
}) as typeof dgram.createSocket;
const outbox: Array<{ bytes: Buffer; port: number }> = [];
const realSend = dgram.Socket.prototype.send;
dgram.Socket.prototype.send = function send(this: dgram.Socket, ...args: unknown[]) {
  if (this !== serverSocket) return (realSend as (...a: unknown[]) => void).apply(this, args);
  outbox.push({ bytes: Buffer.from(args[0] as Buffer), port: args[1] as number });
} as typeof dgram.Socket.prototype.send;

const cpuSince = (t: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(t);
  return d.user + d.system;
};

/** A datagram to the server from `port`; `later` ones go after everything the server sent so far was answered. */
interface Out {
  bytes: Buffer;
  port: number;
  later?: boolean;
}

/** One side of the traffic: starts operation `i`, and answers what the server sends. */
interface Scenario {
  title: string;
  unit: string;
  /** Operation `i` of this round, `op` of the run. */
  start(i: number, op: number): Out[];
  answer(msg: SipMessage, port: number): { out: Out[]; done: boolean };
}

/** Numbers every operation of the run: a branch or Call-ID seen in an earlier round would be a retransmission. */
let opSeq = 0;

function register(user: string, port: number, op: number, cseq: number, auth?: string): Buffer {
  return Buffer.from([
    `REGISTER sip:${DOMAIN} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${port};rport;branch=z9hG4bK${op}x${cseq}`,
    'Max-Forwards: 70', `From: <sip:${user}@${DOMAIN}>;tag=t${port}`, `To: <sip:${user}@${DOMAIN}>`, `Call-ID: r${op}@pipeline`,
    `CSeq: ${cseq} REGISTER`, `Contact: <sip:${user}@127.0.0.1:${port}>`, 'Expires: 3600',
    ...(auth ? [`Authorization: ${auth}`] : []), 'Content-Length: 0', '', '',
  ].join('\r\n'));
}

/** REGISTER → 401 → REGISTER with digest → 200, for `users` users from their own ports. */
function registrations(users: Array<{ user: string; port: number }>): Scenario {
  const byPort = new Map(users.map((u) => [u.port, u.user]));
  return {
    title: 'REGISTER+digest',
    unit: 'registration',
    start: (i, op) => {
      const { user, port } = users[i % users.length];
      return [{ bytes: register(user, port, op, 1), port }];
    },
    answer: (msg, port) => {
      if (!(msg instanceof SipResponse)) throw new Error('the registrar sent a request');
      if (msg.status === 200) return { out: [], done: true };
      if (msg.status !== 401) throw new Error(`REGISTER got ${msg.status}`);
      const user = byPort.get(port)!;
      const auth = answerChallenge(msg.get('www-authenticate')!, user, passwordOf(user), 'REGISTER', `sip:${DOMAIN}`);
      const op = Number(/^r(\d+)@/.exec(msg.callId)![1]);
      return { out: [{ bytes: register(user, port, op, (msg.cseq?.seq ?? 1) + 1, auth!), port }], done: false };
    },
  };
}

function bytesOf(msg: SipMessage, body?: Buffer): Buffer {
  if (body) {
    msg.body = body;
    msg.append('Content-Type', 'application/sdp');
  }
  return msg.toBuffer();
}

/**
 * A trunk calls `target` (a mapping of `callee` or of the group): each leg answers 100 and 180, an
 * answering leg 200 after every leg's 180; ringing legs answer CANCEL with 200 and 487; the caller ACKs the
 * 200 and sends BYE at once.
 */
function calls(target: string, title: string): Scenario {
  const legs = new Map(LEGS.map((l) => [l.port, l]));
  // Each leg's INVITE by port and Call-ID, for its 487 when CANCELled.
  const invites = new Map<string, SipRequest>();
  return {
    title,
    unit: 'call',
    start: (_i, op) => {
      const callId = `call${op}@pipeline`;
      const invite = new SipRequest('INVITE', `sip:${target}@${DOMAIN}`, [], Buffer.alloc(0));
      for (const [name, value] of [
        ['Via', `SIP/2.0/UDP 127.0.0.1:${CALLER_PORT};branch=z9hG4bK-c${op}`], ['From', `<sip:trunk@127.0.0.1:${CALLER_PORT}>;tag=c${op}`],
        ['To', `<sip:${target}@${DOMAIN}>`], ['Call-ID', callId], ['CSeq', '1 INVITE'], ['Contact', `<sip:trunk@127.0.0.1:${CALLER_PORT}>`],
        ['Max-Forwards', '70'], ['Subject', 'Performance Test'],
      ]) invite.append(name, value);
      return [{ bytes: bytesOf(invite, SDP), port: CALLER_PORT }];
    },
    answer: (msg, port) => {
      const leg = legs.get(port);
      if (leg && msg instanceof SipRequest) return { out: legAnswer(leg, msg), done: false };
      if (port !== CALLER_PORT || !(msg instanceof SipResponse)) throw new Error(`unexpected ${msg.isRequest ? 'request' : 'response'} to port ${port}`);
      const method = msg.cseq!.method;
      if (msg.status < 200) return { out: [], done: false };
      if (msg.status >= 300) throw new Error(`${method} got ${msg.status}`);
      if (method === 'BYE') return { out: [], done: true };
      return { out: hangUp(msg).map((bytes) => ({ bytes, port: CALLER_PORT })), done: false };
    },
  };

  function legAnswer(leg: (typeof LEGS)[number], req: SipRequest): Out[] {
    const tag = `leg${leg.port}`;
    const port = leg.port;
    switch (req.method) {
      case 'INVITE': {
        invites.set(`${port} ${req.callId}`, req);
        const out: Out[] = [{ bytes: bytesOf(createResponse(req, 100)), port }, { bytes: bytesOf(dialogResponse(req, 180, tag, port)), port }];
        if (leg.answers) out.push({ bytes: bytesOf(dialogResponse(req, 200, tag, port), SDP), port, later: true });
        return out;
      }
      case 'CANCEL': {
        const invite = invites.get(`${port} ${req.callId}`)!;
        invites.delete(`${port} ${req.callId}`);
        return [{ bytes: bytesOf(createResponse(req, 200, undefined, tag)), port }, { bytes: bytesOf(createResponse(invite, 487, undefined, tag)), port }];
      }
      case 'ACK':
        invites.delete(`${port} ${req.callId}`);
        return [];
      case 'BYE':
        return [{ bytes: bytesOf(createResponse(req, 200, undefined, tag)), port }];
      default:
        throw new Error(`a leg got ${req.method}`);
    }
  }
}

/** 180 or 200 from a leg: the dialog's Record-Route and the leg's Contact. */
function dialogResponse(req: SipRequest, status: number, tag: string, port: number): SipResponse {
  const res = createResponse(req, status, undefined, tag);
  for (const h of req.headers) if (h.key === 'record-route') res.append('Record-Route', h.value);
  res.append('Contact', `<sip:leg@127.0.0.1:${port}>`);
  return res;
}

/** The caller's ACK and BYE for a 200: to its Contact, through its Record-Route reversed (RFC 3261 §12.1.2). */
function hangUp(ok: SipResponse): Buffer[] {
  const contact = parseNameAddr(ok.get('contact')!)!.uri;
  const routes = ok.getAll('record-route').reverse();
  return (['ACK', 'BYE'] as const).map((method, n) => {
    const req = new SipRequest(method, contact, [], Buffer.alloc(0));
    req.append('Via', `SIP/2.0/UDP 127.0.0.1:${CALLER_PORT};branch=z9hG4bK-${method}${ok.fromTag}`);
    for (const r of routes) req.append('Route', r);
    for (const key of ['from', 'to', 'call-id']) req.append(key === 'call-id' ? 'Call-ID' : key[0].toUpperCase() + key.slice(1), ok.get(key)!);
    req.append('CSeq', `${n + 1} ${method}`);
    req.append('Max-Forwards', '70');
    return bytesOf(req);
  });
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-pipeline-'));
  const storeDir = path.join(dir, 'store');
  const seed = await EmbeddedStore.open(storeDir);
  await provision(seed, DOMAIN, USERS, () => {});
  await seed.close();
  const config = parseConfig([
    'backend[] = UsersGroup', 'module = UsersGroup',
    // Node's dgram socket, whose 'message' event this file feeds (the native one is read in C++).
    '[server]', 'udp_io = node', 'bind = 127.0.0.1', 'ws_port = 0', 'sip_port = 0', 'admin_port = 0', `domain = ${DOMAIN}`, `log_level = ${process.env.LOG_LEVEL ?? 'warn'}`,
    '[auth]', 'admin_password = pipeline-bench', '[store]', `dir = ${storeDir}`,
    '[trunk.bench]', 'address = 127.0.0.1', 'port = 5999', 'transport = udp', '',
  ].join('\n'));
  const wac = await startWac(config, createLogger(process.env.LOG_LEVEL ?? 'warn'));
  try {
    const socket = serverSocket!;
    const inject = (bytes: Buffer, port: number) => socket.emit('message', bytes, { address: '127.0.0.1', port, family: 'IPv4', size: bytes.length });

    const round = async (sc: Scenario, n: number): Promise<number> => {
      let sent = 0;
      let done = 0;
      let clientUs = 0;
      const start = process.cpuUsage();
      // The client side is timed in batches: a clock read per message would itself cost more than some handlers.
      const pump = () => {
        const out: Out[] = [];
        const t = process.cpuUsage();
        for (; sent < n && sent - done < IN_FLIGHT; sent++) out.push(...sc.start(sent, opSeq++));
        clientUs += cpuSince(t);
        for (const o of out) inject(o.bytes, o.port);
      };
      pump();
      let progress = Date.now();
      while (done < n) {
        // Let the server's awaits and timers run, as its event loop would between datagrams.
        await new Promise((resolve) => setImmediate(resolve));
        // The outbox is emptied on every turn, so only what this turn found counts as progress.
        if (outbox.length > 0) progress = Date.now();
        else if (Date.now() - progress > 5000) throw new Error(`${sc.title}: the server went silent with ${done} of ${n} done`);
        const now: Out[] = [];
        const later: Out[] = [];
        const t = process.cpuUsage();
        for (const { bytes, port } of outbox.splice(0)) {
          const msg = parseMessage(bytes);
          if (!msg) throw new Error('the server sent an unparsable message');
          const r = sc.answer(msg, port);
          if (r.done) done++;
          for (const o of r.out) (o.later ? later : now).push(o);
        }
        clientUs += cpuSince(t);
        // Injected datagrams wait in the server's inbox until its next turn, as received ones would.
        for (const o of now) inject(o.bytes, o.port);
        for (const o of later) inject(o.bytes, o.port);
        pump();
      }
      return (cpuSince(start) - clientUs) / n;
    };

    const legs = registrations(LEGS);
    await round(legs, LEGS.length);
    const scenarios: Record<string, Scenario> = {
      register: registrations(Array.from({ length: USERS }, (_, i) => ({ user: loadUser(i + 1), port: 20000 + i }))),
      call: calls('callee', 'call to one user, INVITE…BYE'),
      group: calls('group1', 'call to the 3-member group, one answers, two CANCELled'),
    };
    for (const name of SCENARIOS) {
      const sc = scenarios[name];
      if (!sc) throw new Error(`unknown scenario ${name} (register, call, group)`);
      await round(sc, PER_ROUND); // warm-up: JIT, location filled
      const figures: number[] = [];
      for (let k = 0; k < ROUNDS; k++) figures.push(await round(sc, PER_ROUND));
      const sorted = [...figures].sort((a, b) => a - b);
      console.log(`${sc.title}, server JS only (sockets taken out), ${ROUNDS} rounds of ${PER_ROUND}:`);
      console.log(`  µs per ${sc.unit}: min ${sorted[0].toFixed(1)}, median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} (${figures.map((f) => f.toFixed(1)).join(', ')})`);
    }
  } finally {
    await wac.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
