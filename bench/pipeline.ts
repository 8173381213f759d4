/**
 * `npm run bench:pipeline`: the CPU our own code spends per REGISTER+digest, with the sockets taken out.
 *
 * The compiled server runs in this process (this file runs as dist/bench/pipeline.js). Its UDP socket is fed by emitting 'message' on it,
 * and what it sends is captured instead of reaching the kernel, so no datagram leaves the process. The
 * client side (building requests, answering the challenge) is timed and subtracted. Comparing this
 * figure with `npm run bench`'s µs/op tells how much of a registration is our JS and how much is
 * sockets, event-loop wake-ups and the other process sharing the cores.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../shared/config';
import { createLogger } from '../shared/log';
import { Users } from '../shared/model/users';
import { answerChallenge } from '../signaling/auth/digest';
import { SipResponse } from '../signaling/sip/message';
import { parseMessage } from '../signaling/sip/parser';
import { startWac } from '../wac';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PER_ROUND = Number(process.env.PER_ROUND ?? 20000);
const USERS = 200;
const IN_FLIGHT = 50;

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

function register(i: number, cseq: number, auth?: string): Buffer {
  const u = `u${i % USERS}`;
  const port = 20000 + (i % USERS);
  return Buffer.from([
    'REGISTER sip:wac.local SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.1:${port};rport;branch=z9hG4bK${i}x${cseq}`,
    'Max-Forwards: 70', `From: <sip:${u}@wac.local>;tag=t${i}`, `To: <sip:${u}@wac.local>`, `Call-ID: c${i}`,
    `CSeq: ${cseq} REGISTER`, `Contact: <sip:${u}@127.0.0.1:${port}>`, 'Expires: 3600',
    ...(auth ? [`Authorization: ${auth}`] : []), 'Content-Length: 0', '', '',
  ].join('\r\n'));
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-pipeline-'));
  const config = parseConfig([
    '[server]', 'bind = 127.0.0.1', 'ws_port = 0', 'sip_port = 0', 'admin_port = 0', 'domain = wac.local', 'log_level = warn',
    '[auth]', 'admin_password = pipeline-bench', '[store]', `dir = ${dir}`, '',
  ].join('\n'));
  const wac = await startWac(config, createLogger('warn'));
  try {
    const users = new Users(wac.store);
    for (let i = 0; i < USERS; i++) await users.create({ domain: 'wac.local', username: `u${i}`, password: `pw-u${i}` });
    const socket = serverSocket!;
    const inject = (bytes: Buffer, port: number) => socket.emit('message', bytes, { address: '127.0.0.1', port, family: 'IPv4', size: bytes.length });

    const round = async (n: number): Promise<number> => {
      let sent = 0;
      let done = 0;
      let clientUs = 0;
      const start = process.cpuUsage();
      const pump = () => {
        while (sent < n && sent - done < IN_FLIGHT) {
          const t = process.cpuUsage();
          const bytes = register(sent, 1);
          clientUs += cpuSince(t);
          inject(bytes, 20000 + (sent % USERS));
          sent++;
        }
      };
      pump();
      while (done < n) {
        // Let the server's awaits and timers run, as its event loop would between datagrams.
        await new Promise((resolve) => setImmediate(resolve));
        while (outbox.length > 0) {
          const { bytes, port } = outbox.shift()!;
          const t = process.cpuUsage();
          const res = parseMessage(bytes);
          if (!(res instanceof SipResponse)) throw new Error('the server sent something other than a response');
          const status = res.status;
          const i = Number(res.callId.slice(1));
          let next: Buffer | null = null;
          if (status === 401) {
            const auth = answerChallenge(res.get('www-authenticate')!, `u${i % USERS}`, `pw-u${i % USERS}`, 'REGISTER', 'sip:wac.local');
            next = register(i, 2, auth!);
          } else if (status === 200) done++;
          else throw new Error(`REGISTER got ${status}`);
          clientUs += cpuSince(t);
          if (next) inject(next, port);
        }
        pump();
      }
      return (cpuSince(start) - clientUs) / n;
    };

    await round(PER_ROUND); // warm-up: JIT, location filled
    const figures: number[] = [];
    for (let k = 0; k < ROUNDS; k++) figures.push(await round(PER_ROUND));
    const sorted = [...figures].sort((a, b) => a - b);
    console.log(`REGISTER+digest, server JS only (sockets taken out), ${ROUNDS} rounds of ${PER_ROUND}:`);
    console.log(`  µs per registration: min ${sorted[0].toFixed(1)}, median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} (${figures.map((f) => f.toFixed(1)).join(', ')})`);
  } finally {
    await wac.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
