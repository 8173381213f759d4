/**
 * SIP-over-WebSocket load client for the bench (ws://, sub-protocol "sip"), loopback only.
 *
 * MODE=load: CONNS connections, each running REGISTER -> 401 -> REGISTER+digest -> 200 for user after
 *   user (u000001.. of a pool of USERS, one stable Contact per user), as fast as possible (RATE=0) or
 *   paced to RATE registrations/s in total. Stops after TOTAL registrations or DURATION s.
 * MODE=idle: opens CONNS connections (OPEN_CONCURRENCY handshakes in flight), each registers one user
 *   (FIRST_USER + i) with digest, then stays idle. Prints a `ready` JSON line once all are up, holds
 *   them until HOLD s have passed or it gets SIGTERM / SIGINT / stdin closes, then closes them.
 *   SRC_ADDRS spreads the connections over SRC_ADDRS source addresses from 127.0.0.<SRC_FIRST> (default 1)
 *   on (28k source ports each), so that two clients at once need not share one.
 *
 * Prints one JSON object (the result) as its last stdout line. Always exits within DURATION + 10 s
 * (load) or HOLD + 60 s (idle).
 */
import { createHash, randomBytes } from 'node:crypto';
import WebSocket from 'ws';

const env = process.env;
const url = env.URL ?? 'ws://127.0.0.1:8080';
const mode = env.MODE ?? 'load';
const conns = Number(env.CONNS ?? 50);
const total = Number(env.TOTAL ?? 1_000_000);
const durationS = Number(env.DURATION ?? 10);
const rate = Number(env.RATE ?? 0);
const pool = Number(env.USERS ?? 50_000);
const firstUser = Number(env.FIRST_USER ?? 1);
const domain = env.DOMAIN ?? '127.0.0.1';
const holdS = Number(env.HOLD ?? 60);
const openConcurrency = Number(env.OPEN_CONCURRENCY ?? 200);
const srcAddrs = Math.max(1, Number(env.SRC_ADDRS ?? 1));
const srcFirst = Math.max(1, Number(env.SRC_FIRST ?? 1));
const timeoutMs = 4000;

if (!/^wss?:\/\/(127\.\d+\.\d+\.\d+|localhost)(:\d+)?(\/|$)/.test(url)) {
  console.error(`refusing a non-loopback target: ${url}`);
  process.exit(2);
}

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const rnd = (): string => randomBytes(6).toString('hex');
const userName = (n: number): string => `u${String(n).padStart(6, '0')}`;
const uri = `sip:${domain}`;

function register(user: string, callId: string, cseq: number, fromTag: string, auth?: string): string {
  return (
    `REGISTER ${uri} SIP/2.0\r\n` +
    `Via: SIP/2.0/WS ${user}.invalid;branch=z9hG4bK${rnd()}\r\n` +
    'Max-Forwards: 70\r\n' +
    `From: <sip:${user}@${domain}>;tag=${fromTag}\r\n` +
    `To: <sip:${user}@${domain}>\r\n` +
    `Call-ID: ${callId}\r\n` +
    `CSeq: ${cseq} REGISTER\r\n` +
    `Contact: <sip:${user}@${user}.invalid;transport=ws>\r\n` +
    'Expires: 3600\r\n' +
    (auth ? `Authorization: ${auth}\r\n` : '') +
    'User-Agent: wac-bench\r\n' +
    'Content-Length: 0\r\n\r\n'
  );
}

interface Parsed {
  status: number;
  callId: string;
  cseq: number;
  challenge: string;
}

/** Just what the client needs from a response; status 0 for anything else. */
function parse(text: string): Parsed {
  const out: Parsed = { status: 0, callId: '', cseq: 0, challenge: '' };
  if (!text.startsWith('SIP/2.0 ')) return out;
  out.status = Number(text.slice(8, 11));
  const end = text.indexOf('\r\n\r\n');
  for (const line of text.slice(0, end < 0 ? text.length : end).split('\r\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    if (name === 'call-id' || name === 'i') out.callId = line.slice(i + 1).trim();
    else if (name === 'cseq') out.cseq = parseInt(line.slice(i + 1), 10);
    else if (name === 'www-authenticate') out.challenge = line.slice(i + 1).trim();
  }
  return out;
}

/** RFC 2617 digest answer (qop=auth when offered). */
function authorization(challenge: string, user: string, password: string, method: string): string {
  const p: Record<string, string> = {};
  for (const m of challenge.replace(/^Digest\s+/i, '').matchAll(/(\w+)=(?:"([^"]*)"|([^\s,]*))/g)) p[m[1].toLowerCase()] = m[2] ?? m[3];
  const ha1 = md5(`${user}:${p.realm}:${password}`);
  const ha2 = md5(`${method}:${uri}`);
  const qop = p.qop?.split(',').map((q) => q.trim()).includes('auth') ? 'auth' : undefined;
  let extra = '';
  let response: string;
  if (qop) {
    const cnonce = rnd();
    const nc = '00000001';
    response = md5(`${ha1}:${p.nonce}:${nc}:${cnonce}:auth:${ha2}`);
    extra = `, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
  } else response = md5(`${ha1}:${p.nonce}:${ha2}`);
  return `Digest username="${user}", realm="${p.realm}", nonce="${p.nonce}", uri="${uri}", response="${response}", algorithm=MD5${extra}${p.opaque ? `, opaque="${p.opaque}"` : ''}`;
}

const BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500];
const buckets = new Array<number>(BUCKETS.length + 1).fill(0);
const lat: number[] = [];
function record(ms: number): void {
  lat.push(ms);
  let i = 0;
  while (i < BUCKETS.length && ms >= BUCKETS[i]) i++;
  buckets[i]++;
}
function bucketRecord(): Record<string, number> {
  const out: Record<string, number> = {};
  BUCKETS.forEach((b, i) => (out[`<${b}`] = buckets[i]));
  out[`>=${BUCKETS[BUCKETS.length - 1]}`] = buckets[BUCKETS.length];
  return out;
}
function pct(p: number): number {
  if (lat.length === 0) return NaN;
  return +lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2);
}

let started = 0, ok = 0, failed = 0, timeouts = 0, connectErrors = 0, unexpected = 0;
const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
const seconds = () => Number(process.hrtime.bigint() - t0) / 1e9;

interface Pending {
  user: string;
  callId: string;
  fromTag: string;
  t: bigint;
  timer: NodeJS.Timeout;
  done: (success: boolean) => void;
}

/** One registration on an open socket; resolves true on 200. */
function registerOn(ws: WebSocket, user: string, state: { cur: Pending | null }): Promise<boolean> {
  return new Promise((resolve) => {
    const callId = `${rnd()}@bench`;
    const cur: Pending = {
      user, callId, fromTag: rnd(), t: process.hrtime.bigint(),
      timer: setTimeout(() => {
        timeouts++;
        cur.done(false);
      }, timeoutMs),
      done: (success) => {
        clearTimeout(cur.timer);
        if (state.cur === cur) state.cur = null;
        resolve(success);
      },
    };
    state.cur = cur;
    started++;
    ws.send(register(user, callId, 1, cur.fromTag));
  });
}

function attach(ws: WebSocket, state: { cur: Pending | null }): void {
  ws.on('message', (data: Buffer) => {
    const cur = state.cur;
    if (!cur) return;
    const r = parse(data.toString('latin1'));
    if (r.callId !== cur.callId) return;
    if (r.status === 401 && r.cseq === 1) {
      ws.send(register(cur.user, cur.callId, 2, cur.fromTag, authorization(r.challenge, cur.user, `pw-${cur.user}`, 'REGISTER')));
    } else if (r.status >= 200) {
      if (r.status === 200) {
        ok++;
        record(Number(process.hrtime.bigint() - cur.t) / 1e6);
        cur.done(true);
      } else {
        unexpected++;
        cur.done(false);
      }
    }
  });
}

function open(i: number): Promise<WebSocket | null> {
  return new Promise((resolve) => {
    const localAddress = srcAddrs > 1 || srcFirst > 1 ? `127.0.0.${srcFirst + (i % srcAddrs)}` : undefined;
    const ws = new WebSocket(url, 'sip', { perMessageDeflate: false, handshakeTimeout: 10_000, ...(localAddress && { localAddress }) });
    const fail = () => {
      connectErrors++;
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      resolve(null);
    };
    ws.once('open', () => {
      ws.removeListener('error', fail);
      ws.on('error', () => undefined);
      resolve(ws);
    });
    ws.once('error', fail);
  });
}

// ---------------------------------------------------------------- load
let tokens = 0;
let lastRefill = Date.now();
function takeToken(): boolean {
  if (rate <= 0) return true;
  const now = Date.now();
  tokens = Math.min(rate / 20 + 1, tokens + ((now - lastRefill) / 1000) * rate);
  lastRefill = now;
  if (tokens >= 1) {
    tokens -= 1;
    return true;
  }
  return false;
}

async function runLoad(): Promise<void> {
  const deadline = Date.now() + durationS * 1000;
  let nextUser = 0;
  const worker = async (i: number) => {
    const ws = await open(i);
    if (!ws) return;
    const state: { cur: Pending | null } = { cur: null };
    attach(ws, state);
    let closed = false;
    ws.on('close', () => {
      closed = true;
      state.cur?.done(false);
    });
    while (!closed && started < total && Date.now() < deadline) {
      if (!takeToken()) {
        await new Promise((r) => setTimeout(r, 1));
        continue;
      }
      const user = userName(((nextUser++ % pool) + firstUser - 1) % pool + 1);
      if (!(await registerOn(ws, user, state))) failed++;
    }
    ws.close();
  };
  const hard = setTimeout(() => {
    process.stdout.write(`${JSON.stringify({ error: 'hard timeout' })}\n`);
    process.exit(1);
  }, (durationS + 10) * 1000);
  await Promise.all(Array.from({ length: conns }, (_, i) => worker(i)));
  clearTimeout(hard);
  finish({});
}

// ---------------------------------------------------------------- idle
async function runIdle(): Promise<void> {
  const hard = setTimeout(() => process.exit(1), (holdS + 60) * 1000);
  hard.unref();
  const sockets: WebSocket[] = [];
  let closedEarly = 0;
  let next = 0;
  const opener = async () => {
    while (next < conns) {
      const i = next++;
      const ws = await open(i);
      if (!ws) continue;
      const state: { cur: Pending | null } = { cur: null };
      attach(ws, state);
      ws.on('close', () => {
        closedEarly++;
        state.cur?.done(false);
      });
      if (await registerOn(ws, userName(((firstUser - 1 + i) % pool) + 1), state)) sockets.push(ws);
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(openConcurrency, conns) }, opener));
  const readyS = seconds();
  process.stdout.write(`${JSON.stringify({ ready: true, open: sockets.length, registered: ok, failed, connectErrors, seconds: +readyS.toFixed(2) })}\n`);
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, holdS * 1000);
    const stop = () => {
      clearTimeout(t);
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
  });
  const stillOpen = sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
  for (const s of sockets) s.terminate();
  finish({ open: sockets.length, stillOpenAtEnd: stillOpen, closedEarly, openSeconds: +readyS.toFixed(2) });
}

function finish(extra: Record<string, unknown>): void {
  const secs = seconds();
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  const out = {
    mode, url, conns, target_rate: rate || 'max', seconds: +secs.toFixed(2), started, ok, failed, timeouts, unexpected, connectErrors,
    reg_per_s: +(ok / secs).toFixed(1),
    latency_ms: { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), max: lat.length ? +lat[lat.length - 1].toFixed(2) : NaN },
    buckets: bucketRecord(),
    client_cpu_s: +((cpu.user + cpu.system) / 1e6).toFixed(3),
    ...extra,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

if (mode === 'idle') void runIdle();
else void runLoad();
