/**
 * `npm run bench`: CPU per operation, peak memory and highest clean rate of the compiled server
 * (node dist/main.js, its own process, measured from /proc/<pid>/stat), with the embedded store and
 * again with Redis, on loopback, against the same SIPp scenarios as the Kamailio anchor
 * (../shared/bench). See bench/README.md (section text) and `npm run bench -- --help`.
 *
 * Every load step is bounded in count and time; every process is started by pid and stopped by pid
 * at the end, on an error, on Ctrl-C and on TERM.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { EmbeddedStore } from '../shared/store/embedded';
import { RedisStore } from '../shared/store/redis';
import type { Store } from '../shared/store/store';
import {
  BusiestSecond, CLK_TCK, cpuTicks, freePort, HOST, installCleanup, PeakRss, Proc, reapedChildTicks, sleep, startProc, statusKb, stopAll,
  udpRcvbufErrors, udpSocketDrops, waitTcp,
} from './lib/proc';
import { loadUser, passwordOf, provision } from './lib/provision';
import {
  best, KAM_KIND, KAMAILIO_REFERENCE, KamRow, markdownTable, readKamailio, Row, rowCells, textTable, tsv,
} from './lib/report';
import { elapsedSeconds, num, rtdBuckets, runUac, shareBelow, startUas, Uas, uasCounts } from './lib/sipp';

const ROOT = path.resolve(__dirname, '..');
const SHARED = path.resolve(process.env.SHARED_BENCH ?? path.join(ROOT, '..', 'shared', 'bench'));
const SIPP_DIR = path.join(SHARED, 'sipp');
const ANCHOR = path.join(SHARED, 'run-kamailio-anchor.sh');

// ---------------------------------------------------------------- options
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const flagValue = (name: string): string | undefined => {
  const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return argv[i].includes('=') ? argv[i].split('=').slice(1).join('=') : argv[i + 1];
};

if (flag('--help') || flag('-h')) {
  process.stdout.write(`usage: npm run bench -- [--quick] [--compare-kamailio] [--backend memory|redis|both|none]
                       [--steps reg_udp,reg_ws,call,group,race,idle_ws] [--idle-conns N] [--ladder-all] [--no-build]
env: DUR WARMUP_S FAIL_SETTLE_S REG_RATES CALL_RATES GROUP_RATES RACE_RATE WS_RATES WS_CONNS WS_DUR IDLE_CONNS NUSERS
     CALL_PAUSE_MS ANSWER_DELAY_MS RETRANS_TOL_PPM LADDER_ALL LOG_LEVEL UDP_IO WS_IO NODE_ARGS REDIS_FSYNC OUT KEEP_DATA
`);
  process.exit(0);
}

const quick = flag('--quick');
const envNum = (k: string, d: number) => (process.env[k] !== undefined && process.env[k] !== '' ? Number(process.env[k]) : d);
const envList = (k: string, d: string) => (process.env[k] ?? d).split(/[\s,]+/).filter(Boolean).map(Number);

const opt = {
  dur: envNum('DUR', quick ? 3 : 10),
  regRates: envList('REG_RATES', quick ? '1000' : '2000 5000 10000 15000 20000'),
  callRates: envList('CALL_RATES', quick ? '200' : '1000 2000 3000 4000 5000'),
  groupRates: envList('GROUP_RATES', quick ? '100' : '500 1000 2000 2500'),
  raceRate: envNum('RACE_RATE', quick ? 100 : 300),
  wsRates: envList('WS_RATES', quick ? '1000' : '5000 10000 0'),
  wsConns: envNum('WS_CONNS', 50),
  wsDur: envNum('WS_DUR', NaN),
  idleConns: Number(flagValue('--idle-conns') ?? envNum('IDLE_CONNS', quick ? 500 : 5000)),
  nUsers: envNum('NUSERS', quick ? 5000 : 50000),
  pauseMs: envNum('CALL_PAUSE_MS', 1000),
  answerDelayMs: envNum('ANSWER_DELAY_MS', 100),
  retransTolPpm: envNum('RETRANS_TOL_PPM', 0),
  ladderAll: flag('--ladder-all') || process.env.LADDER_ALL === '1',
  logLevel: process.env.LOG_LEVEL ?? 'warn',
  udpIo: process.env.UDP_IO ?? 'auto',
  wsIo: process.env.WS_IO ?? 'auto',
  nodeArgs: [...startFlags(), ...(process.env.NODE_ARGS ?? '').split(/\s+/).filter(Boolean)],
  redisFsync: process.env.REDIS_FSYNC ?? 'everysec',
  backends: (flagValue('--backend') ?? process.env.BACKENDS ?? 'both') === 'both'
    ? ['memory', 'redis']
    : (flagValue('--backend') ?? process.env.BACKENDS ?? '').split(',').filter((b) => b !== '' && b !== 'none'),
  steps: new Set((flagValue('--steps') ?? process.env.STEPS ?? 'reg_udp,reg_ws,call,group,race,idle_ws').split(',')),
  /** seconds of unmeasured load at the first rung's rate before each ladder (JIT, caches); 0 = none */
  warmupS: envNum('WARMUP_S', quick ? 1 : 2),
  failSettleS: envNum('FAIL_SETTLE_S', quick ? 10 : 35),
  compare: flag('--compare-kamailio'),
  build: !flag('--no-build'),
};
if (!Number.isFinite(opt.wsDur)) opt.wsDur = opt.dur;
const idleRequested = opt.idleConns;
const DOMAIN = HOST;

const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d+Z$/, 'Z');
const OUT = path.resolve(process.env.OUT ?? path.join(ROOT, 'bench', 'results', stamp));
fs.mkdirSync(OUT, { recursive: true });
const runLog = fs.openSync(path.join(OUT, 'run.log'), 'a');
function log(s: string): void {
  const line = `${new Date().toISOString().slice(11, 19)} ${s}`;
  process.stdout.write(`${line}\n`);
  fs.writeSync(runLog, `${line}\n`);
}

const rows: Row[] = [];
const cleanups: Array<() => Promise<void>> = [];
installCleanup(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

// ---------------------------------------------------------------- server and store

interface Server {
  proc: Proc;
  sipPort: number;
  wsPort: number;
  adminPort: number;
  ini: string;
}

function writeIni(dir: string, backend: string, redisUrl: string, ports: { sip: number; ws: number; admin: number; trunk: number }): string {
  const ini = path.join(dir, 'wac.ini');
  fs.writeFileSync(ini, `; generated by bench/run.ts
backend[] = UsersGroup
module = UsersGroup

[server]
domain = ${DOMAIN}
bind = ${HOST}
ws_port = ${ports.ws}
sip_port = ${ports.sip}
admin_port = ${ports.admin}
log_level = ${opt.logLevel}
ws_ping_interval = 30
udp_io = ${opt.udpIo}
ws_io = ${opt.wsIo}

[registrar]
min_expires = 60
max_expires = 3600
default_expires = 600

[store]
backend = ${backend}
dir = ${path.join(dir, 'store')}
redis_url = ${redisUrl}

[groups]
; longer than the call hold and the answer delay
ring_timeout = ${Math.max(30, Math.ceil((opt.pauseMs + opt.answerDelayMs) / 1000) + 10)}

; the SIPp callers (127.0.0.1) are a trusted trunk: INVITEs are not challenged, as in the Kamailio anchor
[trunk.bench]
address = ${HOST}
port = ${ports.trunk}
transport = udp
allow[] = ${HOST}
`);
  return ini;
}

/** The node flags `npm start` runs the server with (package.json), so that the bench measures the same process. */
function startFlags(): string[] {
  const start: string = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.start;
  const m = /^node\s+(.*?)\s*dist\/main\.js$/.exec(start);
  if (!m) throw new Error(`bench: cannot read the node flags from "start": ${start}`);
  return m[1].split(/\s+/).filter(Boolean);
}

async function startServer(dir: string, ini: string, ports: { sip: number; ws: number; admin: number }, label: string, extra: { nodeArgs: string[]; env: Record<string, string> } = { nodeArgs: [], env: {} }): Promise<Server> {
  const main = path.join(ROOT, 'dist', 'main.js');
  const logFd = fs.openSync(path.join(dir, `server-${label}.log`), 'a');
  // the idle step holds many sockets: the server's soft fd limit goes up to the hard one
  const proc = startProc('wac server', 'sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', process.execPath, ...opt.nodeArgs, ...extra.nodeArgs, main], {
    cwd: dir, env: { ...process.env, ...extra.env, WAC_INI: ini }, stdio: ['ignore', logFd, logFd],
  });
  fs.closeSync(logFd);
  const isAlive = () => proc.child.exitCode === null && proc.child.signalCode === null;
  try {
    await waitTcp(ports.admin, 60_000, isAlive);
    await waitTcp(ports.ws, 5_000, isAlive);
  } catch (err) {
    await proc.stop();
    const tail = fs.readFileSync(path.join(dir, `server-${label}.log`), 'utf8').split('\n').slice(-20).join('\n');
    throw new Error(`server did not start: ${(err as Error).message}\n${tail}`);
  }
  return { proc, sipPort: ports.sip, wsPort: ports.ws, adminPort: ports.admin, ini };
}

async function startRedis(dir: string): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const rdir = path.join(dir, 'redis');
  fs.mkdirSync(rdir, { recursive: true });
  const proc = startProc('redis-server', 'redis-server', [
    '--port', String(port), '--bind', HOST, '--dir', rdir, '--appendonly', 'yes', '--appendfsync', opt.redisFsync,
    '--save', '', '--daemonize', 'no', '--logfile', path.join(rdir, 'redis.log'),
  ]);
  await waitTcp(port, 10_000, () => proc.child.exitCode === null);
  return { proc, url: `redis://${HOST}:${port}` };
}

// ---------------------------------------------------------------- measuring

interface Probe {
  stop(): { serverCores: number; jsThreadCores: number; jsThreadPeak: number; serverUs: number; peakRssMb: number; storeUs: number; wallS: number; rcvbuf: number; reapedS: number; uasS: number; serverDrops: number };
}

function probe(serverPid: number, storePid: number | undefined, uasPids: number[], sipPort?: number): Probe {
  const d0 = sipPort ? udpSocketDrops(sipPort) : NaN;
  const s0 = cpuTicks(serverPid);
  const j0 = cpuTicks(serverPid, serverPid);
  const r0 = storePid ? cpuTicks(storePid) : NaN;
  const u0 = uasPids.map(cpuTicks);
  const c0 = reapedChildTicks();
  const e0 = udpRcvbufErrors();
  const t0 = process.hrtime.bigint();
  const peak = new PeakRss(serverPid);
  const busiest = new BusiestSecond(serverPid, serverPid);
  return {
    stop() {
      const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
      const serverUs = ((cpuTicks(serverPid) - s0) / CLK_TCK) * 1e6;
      const storeUs = storePid ? ((cpuTicks(storePid) - r0) / CLK_TCK) * 1e6 : NaN;
      const uasS = uasPids.map((p, i) => (cpuTicks(p) - u0[i]) / CLK_TCK).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
      return {
        serverCores: serverUs / 1e6 / wallS, jsThreadCores: (cpuTicks(serverPid, serverPid) - j0) / CLK_TCK / wallS, jsThreadPeak: busiest.stop(), serverUs, peakRssMb: peak.stop() / 1024, storeUs, wallS,
        rcvbuf: udpRcvbufErrors() - e0, reapedS: (reapedChildTicks() - c0) / CLK_TCK, uasS,
        serverDrops: sipPort ? udpSocketDrops(sipPort) - d0 : NaN,
      };
    },
  };
}

function emptyRow(backend: string, step: string, rate: number): Row {
  return {
    backend, step, rate, offered: 0, ok: 0, failed: 0, retransUac: 0, retransUas: 0, uasOk: 0, uasFailed: 0, stuck: 0,
    elapsedS: NaN, achieved: NaN, rtd1Lt1: NaN, rtd1Ge10: NaN, rtd2Ge10: NaN, serverCores: NaN, usPerOp: NaN, peakRssMb: NaN,
    storeUsPerOp: NaN, loadCores: NaN, rcvbufErrors: NaN, verdict: 'FAIL', note: '',
  };
}

function logRow(r: Row): void {
  log(`  ${r.step.padEnd(8)} rate=${r.step === 'idle_ws' ? '-' : r.rate === 0 ? 'max' : r.rate} ok=${r.ok}/${r.offered} failed=${r.failed} retrans=${r.retransUac}/${r.retransUas}` +
    ` stuck=${r.stuck} elapsed=${r.elapsedS.toFixed(1)}s server=${r.serverCores.toFixed(2)} cores ${r.usPerOp.toFixed(0)} µs/op` +
    ` peakRSS=${r.peakRssMb.toFixed(0)} MB${Number.isFinite(r.storeUsPerOp) ? ` redis=${r.storeUsPerOp.toFixed(0)} µs/op` : ''}` +
    `${Number.isFinite(r.loadCores) ? ` loadgen=${r.loadCores.toFixed(2)} cores` : ''} rcvbuf_err=${r.rcvbufErrors} -> ${r.verdict}${r.note ? ` (${r.note})` : ''}`);
}

// ---------------------------------------------------------------- one backend

interface Ctx {
  backend: string;
  dir: string;
  steps: string;
  server: Server;
  storePid?: number;
  uas: Uas[];
  regPort: number;
  uacPort: number;
  uasPorts: number[];
}

async function sippStep(c: Ctx, step: string, rate: number, uasIdx: number[], scenario: string, args: string[], localPort: number): Promise<Row> {
  const n = Math.max(1, Math.round(rate * opt.dur));
  const uas = uasIdx.map((i) => c.uas[i]);
  const before = uas.map(uasCounts);
  const p = probe(c.server.proc.pid, c.storePid, uas.map((u) => u.proc.pid), c.server.sipPort);
  const run = await runUac({ tag: `${c.backend}_${step}_${rate}`, dir: c.steps, remotePort: c.server.sipPort, localPort, scenario, rate, calls: n, durS: opt.dur, args });
  const m = p.stop();
  await sleep(uas.length ? 2000 : 0); // UAS stat files are flushed every second
  const after = uas.map(uasCounts);
  const r = emptyRow(c.backend, step, rate);
  r.offered = n;
  r.ok = num(run.stats, 'SuccessfulCall(C)') || 0;
  r.failed = num(run.stats, 'FailedCall(C)');
  r.retransUac = num(run.stats, 'Retransmissions(C)');
  for (let i = 0; i < uas.length; i++) {
    r.uasOk += after[i].ok - before[i].ok;
    r.uasFailed += after[i].failed - before[i].failed;
    r.retransUas += after[i].retrans - before[i].retrans;
  }
  // legs that got an INVITE and never ended (no CANCEL, no BYE); negative = UAS calls left over from earlier rungs
  const legsEnded = r.uasOk + r.uasFailed;
  r.stuck = uas.length ? Math.max(0, n * uas.length - legsEnded) : 0;
  r.elapsedS = elapsedSeconds(run.stats);
  r.achieved = r.ok / (r.elapsedS - (step === 'reg_udp' ? 0 : opt.pauseMs / 1000));
  const rtd1 = rtdBuckets(run.stats, 1);
  const rtd2 = rtdBuckets(run.stats, 2);
  r.rtd1Lt1 = shareBelow(rtd1, 1);
  r.rtd1Ge10 = 1 - shareBelow(rtd1, 10);
  r.rtd2Ge10 = rtd2.length ? 1 - shareBelow(rtd2, 10) : NaN;
  r.serverCores = m.serverCores;
  r.usPerOp = r.ok > 0 ? m.serverUs / r.ok : NaN;
  r.peakRssMb = m.peakRssMb;
  r.storeUsPerOp = r.ok > 0 ? m.storeUs / r.ok : NaN;
  r.loadCores = (m.reapedS + m.uasS) / m.wallS;
  r.rcvbufErrors = m.rcvbuf;
  const notes: string[] = [];
  if (!run.stats) notes.push('no sipp statistics');
  if (run.code !== 0) notes.push(`sipp exit ${run.code}`);
  // The server's other threads: the native UDP socket's, libuv's pool, V8's GC helpers.
  notes.push(`JS thread ${m.jsThreadCores.toFixed(2)} cores, busiest second ${m.jsThreadPeak.toFixed(2)}`);
  if (r.elapsedS > opt.dur + 3 + (step === 'reg_udp' ? 0 : opt.pauseMs / 1000)) notes.push('did not keep the rate');
  if (r.rcvbufErrors > 0) notes.push(`UDP rcvbuf drops ${r.rcvbufErrors} system-wide, ${m.serverDrops} at the server's socket`);
  if (r.uasFailed > 0) notes.push(`${r.uasFailed} UAS legs failed`);
  if (uas.length && legsEnded > n * uas.length) notes.push(`${legsEnded - n * uas.length} UAS calls left over from earlier rungs`);
  const clean = !!run.stats && r.failed === 0 && r.ok >= n && r.uasFailed === 0 && r.stuck === 0 &&
    (r.retransUac + r.retransUas) * 1e6 <= n * opt.retransTolPpm && !notes.includes('did not keep the rate');
  r.verdict = clean ? 'PASS' : 'FAIL';
  r.note = notes.join('; ');
  rows.push(r);
  logRow(r);
  return r;
}

/** An unmeasured SIPp run of `warmupS` seconds; returns a one-line outcome. */
async function sippWarm(c: Ctx, step: string, rate: number, scenario: string, args: string[], localPort: number): Promise<string> {
  const n = Math.max(1, Math.round(rate * opt.warmupS));
  const run = await runUac({ tag: `${c.backend}_${step}_warmup`, dir: c.steps, remotePort: c.server.sipPort, localPort, scenario, rate, calls: n, durS: opt.warmupS, args });
  return `${num(run.stats, 'SuccessfulCall(C)')}/${n} ok, ${num(run.stats, 'FailedCall(C)')} failed, ${num(run.stats, 'Retransmissions(C)')} retrans`;
}

async function ladder(step: string, rates: number[], run: (rate: number) => Promise<Row>, warm?: (rate: number) => Promise<string>): Promise<void> {
  if (warm && opt.warmupS > 0 && rates.length > 0) {
    log(`  warm-up ${opt.warmupS} s at ${rates[0] || 1000}/s (not measured): ${await warm(rates[0] || 1000)}`);
    await sleep(quick ? 1000 : 2000);
  }
  for (const [i, rate] of rates.entries()) {
    const r = await run(rate);
    if (r.verdict !== 'PASS') {
      // a failed rung leaves transactions retransmitting for up to 32 s (Timer F/J): let them die out,
      // so that they are not counted against the next rung or step
      log(`  ${step}: rung ${rate === 0 ? 'max' : rate}/s failed; waiting ${opt.failSettleS} s for its retransmissions to end`);
      await sleep(opt.failSettleS * 1000);
      if (!opt.ladderAll) {
        log(`  ${step}: stopping the ladder at its first failing rung`);
        break;
      }
      continue;
    }
    if (i < rates.length - 1) await sleep(3000); // transactions of the previous rung expire
  }
}

function wsLoadClient(env: Record<string, string>, maxMs: number, fdLimit?: number): { proc: Proc; lines: string[]; done: Promise<void> } {
  const script = path.join(ROOT, 'bench', 'ws-load.ts');
  const node = [process.execPath, '--import', 'tsx', script];
  const cmd = fdLimit ? ['sh', '-c', `ulimit -n ${fdLimit} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`, 'sh', ...node] : node;
  const proc = startProc('ws client', cmd[0], cmd.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'], maxMs });
  const lines: string[] = [];
  const rl = readline.createInterface({ input: proc.child.stdout! });
  rl.on('line', (l) => lines.push(l));
  return { proc, lines, done: proc.exited.then(() => new Promise<void>((r) => setImmediate(r))) };
}

async function wsStep(c: Ctx, rate: number): Promise<Row> {
  const total = rate > 0 ? Math.round(rate * opt.wsDur) : 10_000_000;
  const p = probe(c.server.proc.pid, c.storePid, []);
  const client = wsLoadClient({
    MODE: 'load', URL: `ws://${HOST}:${c.server.wsPort}`, CONNS: String(opt.wsConns), TOTAL: String(total),
    DURATION: String(rate > 0 ? opt.wsDur + 3 : opt.wsDur), RATE: String(rate), USERS: String(opt.nUsers),
  }, (opt.wsDur + 30) * 1000);
  await client.done;
  const m = p.stop();
  const r = emptyRow(c.backend, 'reg_ws', rate);
  let res: Record<string, unknown> = {};
  try {
    res = JSON.parse(client.lines[client.lines.length - 1] ?? '{}') as Record<string, unknown>;
  } catch {
    r.note = 'no result from the WS client';
  }
  fs.writeFileSync(path.join(c.steps, `${c.backend}_reg_ws_${rate}.json`), JSON.stringify(res, null, 1));
  const b = (res.buckets ?? {}) as Record<string, number>;
  const totalB = Object.values(b).reduce((a, x) => a + x, 0);
  r.ok = Number(res.ok ?? 0);
  r.failed = Number(res.failed ?? NaN);
  r.offered = rate > 0 ? total : Number(res.started ?? 0);
  r.elapsedS = Number(res.seconds ?? NaN);
  r.achieved = Number(res.reg_per_s ?? NaN);
  r.rtd1Lt1 = totalB ? (b['<1'] ?? 0) / totalB : NaN;
  r.rtd1Ge10 = totalB ? 1 - ((b['<1'] ?? 0) + (b['<2'] ?? 0) + (b['<5'] ?? 0) + (b['<10'] ?? 0)) / totalB : NaN;
  r.serverCores = m.serverCores;
  r.usPerOp = r.ok > 0 ? m.serverUs / r.ok : NaN;
  r.peakRssMb = m.peakRssMb;
  r.storeUsPerOp = r.ok > 0 ? m.storeUs / r.ok : NaN;
  r.loadCores = m.reapedS / m.wallS;
  r.rcvbufErrors = 0;
  const lat = res.latency_ms as Record<string, number> | undefined;
  const notes = [`${opt.wsConns} conns`, lat ? `p50/p99 ${lat.p50}/${lat.p99} ms` : ''];
  const keptRate = rate === 0 || (r.ok >= r.offered && r.elapsedS <= opt.wsDur + 3);
  if (!keptRate) notes.push('did not keep the rate');
  if (Number(res.timeouts ?? 0) > 0) notes.push(`${String(res.timeouts)} timeouts`);
  r.verdict = r.failed === 0 && r.ok > 0 && keptRate && Number(res.connectErrors ?? 0) === 0 ? 'PASS' : 'FAIL';
  r.note = notes.filter(Boolean).join('; ');
  rows.push(r);
  logRow(r);
  return r;
}

/** Idle step on a fresh server: N registered WS connections held open, RSS per connection. */
async function idleStep(c: Ctx, ports: { sip: number; ws: number; admin: number }): Promise<void> {
  // one fd per connection in the server and in the client: the hard limit caps the step
  const hard = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim());
  const cap = Number.isFinite(hard) ? hard - 500 : Infinity;
  const wanted = idleRequested;
  opt.idleConns = wanted;
  if (wanted > cap) {
    log(`  idle: ${wanted} connections exceed the hard open-files limit (${hard}, not raisable here): running ${cap}`);
    opt.idleConns = cap;
  }
  // Two batches: the first also pays the process's one-time growth (V8 commits its young generation,
  // up to 2 x --max-semi-space-size, at start, but its pages become resident only in the first burst
  // of handshakes), which would otherwise be charged to the connections; the second gives what one
  // more connection costs.
  const first = Math.max(1, Math.round(opt.idleConns / 5));
  const second = opt.idleConns - first;
  log(`== idle WebSocket connections: ${opt.idleConns} (fresh server), ${first} then ${second} more`);
  await c.server.proc.stop(10_000);
  const gcOut = path.join(c.dir, 'gc-probe.jsonl');
  c.server = await startServer(c.dir, c.server.ini, ports, 'idle', {
    nodeArgs: ['--expose-gc', '--require', path.join(ROOT, 'bench', 'lib', 'gc-probe.cjs')], env: { GC_PROBE_OUT: gcOut },
  });
  await sleep(2000);
  const pid = c.server.proc.pid;
  const gc0 = await afterFullGc(pid, gcOut);
  // Each client holds its connections until it is stopped at the end of the step.
  const hold = Math.ceil(opt.idleConns / 200 + 300);
  const clients: Array<ReturnType<typeof wsLoadClient>> = [];
  const opening: Array<ReturnType<Probe['stop']>> = [];
  let srcFirst = 1;
  const batch = async (conns: number, firstUser: number) => {
    const srcAddrs = Math.ceil(conns / 25_000);
    const p = probe(pid, c.storePid, []);
    let ready: { open?: number; failed?: number; connectErrors?: number; seconds?: number } = {};
    try {
      const client = wsLoadClient({
        MODE: 'idle', URL: `ws://${HOST}:${c.server.wsPort}`, CONNS: String(conns), FIRST_USER: String(firstUser), USERS: String(Math.max(opt.nUsers, 1)),
        HOLD: String(hold), SRC_ADDRS: String(srcAddrs), SRC_FIRST: String(srcFirst), OPEN_CONCURRENCY: '200',
      }, (hold + 60) * 1000, conns + 1000);
      clients.push(client);
      srcFirst += srcAddrs;
      const deadline = Date.now() + (conns / 200 + 120) * 1000;
      while (!client.lines.some((l) => l.includes('"ready"')) && Date.now() < deadline && client.proc.child.exitCode === null) await sleep(100);
      ready = JSON.parse(client.lines.find((l) => l.includes('"ready"')) ?? '{}') as typeof ready;
    } finally {
      opening.push(p.stop());
    }
    await sleep(3000); // settle: the server's per-connection garbage is collected, timers fire
    return { ready, open: ready.open ?? 0, gc: await afterFullGc(pid, gcOut) };
  };
  let a: Awaited<ReturnType<typeof batch>>;
  let b: Awaited<ReturnType<typeof batch>>;
  try {
    a = await batch(first, 1);
    b = await batch(second, first + 1);
  } finally {
    for (const x of clients) await x.proc.stop(10_000);
    for (const x of clients) await x.done;
  }
  const sum = (f: (m: ReturnType<Probe['stop']>) => number) => opening.reduce((n, m) => n + f(m), 0);
  const openM = { serverUs: sum((m) => m.serverUs), storeUs: sum((m) => m.storeUs), wallS: sum((m) => m.wallS), peakRssMb: Math.max(...opening.map((m) => m.peakRssMb)) };
  const r = emptyRow(c.backend, 'idle_ws', 0);
  const open = a.open + b.open;
  r.offered = opt.idleConns;
  r.ok = open;
  r.failed = [a, b].reduce((n, x) => n + (x.ready.failed ?? 0) + (x.ready.connectErrors ?? 0), 0);
  r.elapsedS = (a.ready.seconds ?? NaN) + (b.ready.seconds ?? NaN);
  r.achieved = open / r.elapsedS;
  r.serverCores = openM.serverUs / 1e6 / openM.wallS;
  r.usPerOp = open > 0 ? openM.serverUs / open : NaN;
  r.peakRssMb = openM.peakRssMb;
  r.storeUsPerOp = open > 0 ? openM.storeUs / open : NaN;
  r.loadCores = NaN;
  r.rcvbufErrors = 0;
  const kb = (before: number, after: number, n: number) => (n > 0 ? (after - before) / 1024 / n : NaN);
  const marginal = kb(a.gc.rss, b.gc.rss, b.open);
  const average = kb(gc0.rss, b.gc.rss, open);
  const mb = (x: number) => (x / 1024 / 1024).toFixed(0);
  r.note = `RSS after a full GC ${mb(gc0.rss)} -> ${mb(a.gc.rss)} -> ${mb(b.gc.rss)} MB: ${marginal.toFixed(1)} KB per registered idle connection over the last ${b.open} ` +
    `(JS heap ${kb(a.gc.heapUsed, b.gc.heapUsed, b.open).toFixed(1)} KB used, ${kb(a.gc.heapTotal, b.gc.heapTotal, b.open).toFixed(1)} KB committed; ` +
    `buffers outside the heap ${kb(a.gc.external, b.gc.external, b.open).toFixed(1)} KB); ${average.toFixed(1)} KB averaged over all ${open}, ` +
    `the process's one-time growth included; µs/op = connect+REGISTER` +
    (wanted !== opt.idleConns ? `; capped from ${wanted} by the open-files limit` : '');
  r.verdict = r.failed === 0 && open === opt.idleConns ? 'PASS' : 'FAIL';
  rows.push(r);
  idleKb.set(c.backend, { marginal, average });
  logRow(r);
}
const idleKb = new Map<string, { marginal: number; average: number }>();

function idleText(backend: string): string {
  const kb = idleKb.get(backend);
  return kb ? `${kb.marginal.toFixed(1)} KB/conn (${kb.average.toFixed(1)} averaged over all)` : '–';
}

/** What gc-probe.cjs writes, in bytes. */
type GcReading = { rss: number; heapUsed: number; heapTotal: number; external: number };

/** The server's memory right after a full GC, through the bench's gc-probe preload. */
async function afterFullGc(pid: number, file: string): Promise<GcReading> {
  const lines = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);
  const before = lines().length;
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 10_000;
  while (lines().length === before && Date.now() < deadline) await sleep(50);
  const last = lines()[before];
  return last ? (JSON.parse(last) as GcReading) : { rss: NaN, heapUsed: NaN, heapTotal: NaN, external: NaN };
}

async function runBackend(backend: string): Promise<void> {
  const dir = path.join(OUT, backend);
  const steps = path.join(dir, 'steps');
  const data = path.join(dir, 'data');
  fs.mkdirSync(steps, { recursive: true });
  fs.mkdirSync(data, { recursive: true });
  log(`==== backend ${backend} (results in ${dir})`);

  let redis: { proc: Proc; url: string } | undefined;
  if (backend === 'redis') {
    redis = await startRedis(dir);
    cleanups.push(() => redis!.proc.stop());
    log(`redis-server pid=${redis.proc.pid} ${redis.url} (appendfsync ${opt.redisFsync})`);
  }
  // users straight into the store, before the server owns it
  const store: Store = backend === 'redis' ? await RedisStore.open(redis!.url) : await EmbeddedStore.open(path.join(dir, 'store'));
  const prov = await provision(store, DOMAIN, opt.nUsers, log);
  await store.close();
  log(`provisioned ${prov.users} users, group1 (g1m1, g1m2, g1m3), mappings callee and group1 in ${(prov.ms / 1000).toFixed(1)} s`);

  // SIPp injection files
  const loadCsv = path.join(data, 'load_users.csv');
  const lines = ['SEQUENTIAL'];
  for (let i = 1; i <= opt.nUsers; i++) {
    const u = loadUser(i);
    lines.push(`${u};${DOMAIN};[authentication username=${u} password=${passwordOf(u)}];${HOST}:5999`);
  }
  fs.writeFileSync(loadCsv, `${lines.join('\n')}\n`);

  const ports = { sip: await freePort(), ws: await freePort(), admin: await freePort(), trunk: await freePort() };
  const ini = writeIni(dir, backend, redis?.url ?? 'redis://127.0.0.1:6379', ports);
  const server = await startServer(dir, ini, ports, 'main');
  const c: Ctx = {
    backend, dir, steps, server, storePid: redis?.proc.pid, uas: [],
    regPort: await freePort(), uacPort: await freePort(), uasPorts: [await freePort(), await freePort(), await freePort()],
  };
  cleanups.push(() => c.server.proc.stop());
  log(`server pid=${server.proc.pid} sip=udp+tcp:${ports.sip} ws=${ports.ws} admin=${ports.admin} RSS=${(statusKb(server.proc.pid, 'VmRSS') / 1024).toFixed(0)} MB`);

  const needUas = ['call', 'group', 'race'].some((s) => opt.steps.has(s));
  if (needUas) {
    // Our registrar sends to the flow a binding registered on, so each UAS registers from its own port.
    const who: string[][] = [['callee', 'g1m1'], ['g1m2'], ['g1m3']];
    for (let i = 0; i < 3; i++) {
      const inf = path.join(data, `setup_${i}.csv`);
      fs.writeFileSync(inf, `SEQUENTIAL\n${who[i].map((u) => `${u};${DOMAIN};[authentication username=${u} password=${passwordOf(u)}];${HOST}:${c.uasPorts[i]}`).join('\n')}\n`);
      const run = await runUac({
        tag: `${backend}_setup_register_${i}`, dir: steps, remotePort: ports.sip, localPort: c.uasPorts[i],
        scenario: path.join(SIPP_DIR, 'reg_auth_uac.xml'), rate: 10, calls: who[i].length, durS: 10, args: ['-inf', inf],
      });
      if (num(run.stats, 'SuccessfulCall(C)') !== who[i].length) throw new Error(`setup REGISTER of ${who[i].join(', ')} failed (see ${steps})`);
    }
    log(`registered callee+g1m1 -> :${c.uasPorts[0]}, g1m2 -> :${c.uasPorts[1]}, g1m3 -> :${c.uasPorts[2]}`);
    const life = 3600;
    c.uas = [
      await startUas(steps, c.uasPorts[0], path.join(SIPP_DIR, 'uas_answer.xml'), ['-d', String(opt.answerDelayMs)], life),
      await startUas(steps, c.uasPorts[1], path.join(SIPP_DIR, 'uas_ring_cancel.xml'), [], life),
      await startUas(steps, c.uasPorts[2], path.join(SIPP_DIR, 'uas_ring_cancel.xml'), [], life),
    ];
    cleanups.push(async () => {
      for (const u of c.uas) await u.proc.stop();
    });
    await sleep(1000);
  }

  if (opt.steps.has('reg_udp')) {
    log(`== REGISTER with digest over UDP (SIPp, ${opt.nUsers} users), ${opt.dur} s per rung`);
    const reg = path.join(SIPP_DIR, 'reg_auth_uac.xml');
    await ladder('reg_udp', opt.regRates, (rate) => sippStep(c, 'reg_udp', rate, [], reg, ['-inf', loadCsv], c.regPort),
      (rate) => sippWarm(c, 'reg_udp', rate, reg, ['-inf', loadCsv], c.regPort));
  }
  if (opt.steps.has('reg_ws')) {
    log(`== REGISTER with digest over WebSocket (${opt.wsConns} connections), ${opt.wsDur} s per rung`);
    await ladder('reg_ws', opt.wsRates, (rate) => wsStep(c, rate), async (rate) => {
      const w = wsLoadClient({
        MODE: 'load', URL: `ws://${HOST}:${c.server.wsPort}`, CONNS: String(opt.wsConns), TOTAL: String(Math.round(rate * opt.warmupS)),
        DURATION: String(opt.warmupS + 3), RATE: String(rate), USERS: String(opt.nUsers),
      }, (opt.warmupS + 30) * 1000);
      await w.done;
      try {
        const j = JSON.parse(w.lines[w.lines.length - 1] ?? '') as { ok: number; failed: number };
        return `${j.ok} ok, ${j.failed} failed`;
      } catch {
        return 'no result';
      }
    });
  }
  const callArgs = (svc: string) => ['-s', svc, '-d', String(opt.pauseMs)];
  if (opt.steps.has('call')) {
    log(`== INVITE to one registered user (callee), answer ${opt.answerDelayMs} ms, hold ${opt.pauseMs} ms`);
    const call = path.join(SIPP_DIR, 'uac_call.xml');
    await ladder('call', opt.callRates, (rate) => sippStep(c, 'call', rate, [0], call, callArgs('callee'), c.uacPort),
      (rate) => sippWarm(c, 'call', rate, call, callArgs('callee'), c.uacPort));
  }
  if (opt.steps.has('group')) {
    log('== INVITE to group1 (3 legs: one answers, two ring and get CANCEL)');
    const call = path.join(SIPP_DIR, 'uac_call.xml');
    await ladder('group', opt.groupRates, (rate) => sippStep(c, 'group', rate, [0, 1, 2], call, callArgs('group1'), c.uacPort),
      (rate) => sippWarm(c, 'group', rate, call, callArgs('group1'), c.uacPort));
  }
  if (opt.steps.has('race') && opt.raceRate > 0) {
    log('== race: group1 with the winner answering at once (its 200 right behind its 180)');
    await c.uas[0].proc.stop();
    const noDelay = path.join(dir, 'uas_answer_nodelay.xml');
    fs.writeFileSync(noDelay, fs.readFileSync(path.join(SIPP_DIR, 'uas_answer.xml'), 'latin1').replace(/^\s*<pause\/>\s*$/m, ''), 'latin1');
    c.uas[0] = await startUas(steps, c.uasPorts[0], noDelay, [], 3600);
    await sleep(1000);
    await sippStep(c, 'race', opt.raceRate, [0, 1, 2], path.join(SIPP_DIR, 'uac_call.xml'), callArgs('group1'), c.uacPort);
  }
  for (const u of c.uas) await u.proc.stop();
  if (opt.steps.has('idle_ws')) await idleStep(c, ports);
  await c.server.proc.stop(10_000);
  if (redis) await redis.proc.stop();
  if (process.env.KEEP_DATA !== '1') {
    // the store, the AOF and the 50k-line injection file are only worth keeping when debugging
    for (const p of [path.join(dir, 'store'), path.join(dir, 'redis', 'appendonlydir'), loadCsv]) fs.rmSync(p, { recursive: true, force: true });
  }
  log(`backend ${backend} done`);
}

// ---------------------------------------------------------------- Kamailio

let kamRows: KamRow[] = [];
async function runKamailio(): Promise<void> {
  const out = path.join(OUT, 'kamailio');
  fs.mkdirSync(out, { recursive: true });
  const rungs = opt.regRates.length + opt.callRates.length + opt.groupRates.length + 1;
  const maxMs = (rungs * (opt.dur + 12) + opt.wsRates.length * (opt.wsDur + 10) + 600) * 1000;
  log(`==== Kamailio anchor: bash ${ANCHOR} (OUT=${out}, at most ${(maxMs / 60000).toFixed(0)} min)`);
  const logFd = fs.openSync(path.join(out, 'anchor-stdout.log'), 'a');
  const anchor = startProc('kamailio anchor', 'bash', [ANCHOR], {
    cwd: SHARED, stdio: ['ignore', logFd, logFd], maxMs,
    env: {
      ...process.env, OUT: out, DUR: String(opt.dur), REG_RATES: opt.regRates.join(' '), CALL_RATES: opt.callRates.join(' '),
      GROUP_RATES: opt.groupRates.join(' '), RACE_RATE: String(opt.raceRate), WS_CONNS: String(opt.wsConns), WS_DUR: String(opt.wsDur),
      WS_RATES: opt.wsRates.join(' '), WS_TOTAL: String(Math.max(...opt.wsRates, 1) * opt.wsDur * 2 || 400000), NUSERS: String(opt.nUsers),
      CALL_PAUSE_MS: String(opt.pauseMs), ANSWER_DELAY_MS: String(opt.answerDelayMs), LADDER_ALL: opt.ladderAll ? '1' : '0',
      // the repo's own node_modules/ws serves the anchor's WS client (no scratch npm install)
      NODE_SCRATCH: process.env.NODE_SCRATCH ?? ROOT,
    },
  });
  cleanups.push(() => anchor.stop(15_000));
  fs.closeSync(logFd);
  const code = await anchor.exited;
  kamRows = readKamailio(out);
  log(`Kamailio anchor exited ${code}; ${kamRows.length} result rows (log: ${path.join(out, 'anchor-stdout.log')})`);
}

// ---------------------------------------------------------------- report

function machine(): string {
  const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8', timeout: 5000 }).stdout?.trim() ?? '';
  const cpu = os.cpus()[0]?.model ?? '?';
  return [
    `machine: ${os.cpus().length} vCPU (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, kernel ${os.release()}, ${sh('. /etc/os-release && echo $PRETTY_NAME')}`,
    `node ${process.version}, ${sh('sipp -v 2>&1 | grep -o "SIPp v[^ ]*" | head -1')}, ${sh('redis-server --version | cut -d" " -f1-3')}`,
    `wac-ts ${sh(`git -C ${ROOT} rev-parse --short HEAD`)}${sh(`git -C ${ROOT} status --porcelain -- main.ts wac.ts signaling shared admin-api`) ? ' (with uncommitted changes)' : ''}`,
    `settings: DUR=${opt.dur}s warm-up=${opt.warmupS}s users=${opt.nUsers} hold=${opt.pauseMs}ms answer=${opt.answerDelayMs}ms WS conns=${opt.wsConns} idle conns=${opt.idleConns} log_level=${opt.logLevel} udp_io=${opt.udpIo} ws_io=${opt.wsIo}${opt.nodeArgs.length ? ` node ${opt.nodeArgs.join(' ')}` : ''}${quick ? ' (--quick)' : ''}`,
  ].join('\n');
}

function summaryRows(): string[][] {
  const out: string[][] = [];
  const steps = ['reg_udp', 'reg_ws', 'call', 'group', 'race', 'idle_ws'];
  for (const backend of opt.backends) {
    for (const step of steps) {
      const ran = rows.filter((r) => r.backend === backend && r.step === step);
      if (ran.length === 0) continue;
      const b = best(rows, backend, step);
      const firstFail = ran.find((r) => r.verdict !== 'PASS');
      out.push([
        backend, step,
        b ? (step === 'idle_ws' ? `${b.ok} conns` : b.rate === 0 ? `max ${Math.round(b.achieved)}/s` : `${b.rate}/s`) : 'none',
        b ? b.usPerOp.toFixed(0) : '–',
        b ? b.peakRssMb.toFixed(0) : '–',
        step === 'idle_ws' ? idleText(backend) : step === 'race' ? `stuck ${ran[0].stuck}` : '',
        firstFail ? `${firstFail.rate === 0 ? 'max' : firstFail.rate}: ${firstFail.failed} failed, ${firstFail.retransUac + firstFail.retransUas} retrans, ${firstFail.stuck} stuck${firstFail.note ? `; ${firstFail.note}` : ''}` : '',
      ]);
    }
  }
  return out;
}

function kamailioAnchorRows(): string[][] {
  return kamRows.map((k) => [k.kind, k.rate === 0 ? 'max' : String(k.rate), `${k.ok}/${k.offered}`, String(k.failed), String(k.stuck), Number.isFinite(k.usPerOp) ? k.usPerOp.toFixed(0) : '–', k.verdict]);
}

function kamailioRows(): string[][] {
  const out: string[][] = [];
  const backend = opt.backends[0];
  if (!backend) return out;
  for (const step of ['reg_udp', 'reg_ws', 'call', 'group', 'race', 'idle_ws']) {
    const ours = best(rows, backend, step);
    if (!rows.some((r) => r.backend === backend && r.step === step)) continue;
    const ref = KAMAILIO_REFERENCE[step];
    const kind = KAM_KIND[step];
    const kam = kamRows.filter((k) => k.kind === kind);
    const kamBest = kam.filter((k) => k.verdict === 'PASS').sort((a, b) => (a.rate || 1e12) - (b.rate || 1e12)).pop();
    // us/op ratio at the highest rate both ran clean (same offered load), else at each side's best
    const common = kam.filter((k) => k.verdict === 'PASS' && rows.some((r) => r.backend === backend && r.step === step && r.verdict === 'PASS' && r.rate === k.rate))
      .sort((a, b) => (a.rate || 1e12) - (b.rate || 1e12)).pop();
    const oursAt = common ? rows.find((r) => r.backend === backend && r.step === step && r.rate === common.rate) : ours;
    const kamAt = common ?? kamBest;
    const ratio = oursAt && kamAt && kamAt.usPerOp > 0 ? (oursAt.usPerOp / kamAt.usPerOp).toFixed(2) : '–';
    const rateRatio = ours && kamBest && kamBest.rate > 0 && ours.rate > 0 ? (ours.rate / kamBest.rate).toFixed(2) : '–';
    out.push([
      step,
      ours ? `${step === 'idle_ws' ? `${ours.ok} conns, ${idleText(backend)}` : ours.rate === 0 ? `max ${Math.round(ours.achieved)}` : ours.rate}${step === 'race' ? ` (stuck ${ours.stuck})` : ''}` : 'none',
      ours ? ours.usPerOp.toFixed(0) : '–',
      kam.length
        ? step === 'race'
          ? kam.map((k) => `${k.rate} ${k.verdict === 'PASS' ? 'clean' : 'FAIL'} (stuck ${k.stuck} of ${2 * k.offered})`).join(', ')
          : kamBest ? `${kamBest.rate === 0 ? 'max' : kamBest.rate}` : 'none clean'
        : 'not run',
      kamBest ? kamBest.usPerOp.toFixed(0) : '–',
      common ? `${common.rate === 0 ? 'max' : common.rate}/s: ${ratio}` : kamAt ? `best vs best: ${ratio}` : '–',
      rateRatio,
      `${ref.rate}; ${ref.usPerOp} µs${ref.extra ? `; ${ref.extra}` : ''}`,
    ]);
  }
  return out;
}

function report(): void {
  const { head, cells } = rowCells(rows);
  const sumHead = ['backend', 'step', 'highest clean rate', 'server µs/op there', 'peak RSS MB there', 'detail', 'first failing rung'];
  const sum = summaryRows();
  const kamHead = ['step', `ours (${opt.backends[0]}) clean`, 'ours µs/op', 'Kamailio clean (this run)', 'Kamailio µs/op', 'µs/op ours/Kamailio', 'clean rate ours/Kamailio', 'KAMAILIO.md reference'];
  const kam = kamailioRows();
  const kamAnchorHead = ['kind', 'rate/s', 'ok/offered', 'failed', 'stuck legs', 'Kamailio µs/op', 'verdict'];
  const text = [
    machine(), '',
    textTable(head, cells), '',
    'Highest clean rate per step (0 failures, 0 retransmissions, rate kept):',
    textTable(sumHead, sum), '',
    ...(kamRows.length ? ['Kamailio anchor, this run (kind, rate, ok/offered, failed, stuck legs, Kamailio µs/op, verdict):', textTable(kamAnchorHead, kamailioAnchorRows()), ''] : []),
    ...(rows.length ? ['Against Kamailio 5.6.3:', textTable(kamHead, kam), ''] : []),
  ].join('\n');
  process.stdout.write(`\n${text}\n`);
  const md = [
    `# wac-ts bench ${stamp}`, '', '```', machine(), '```', '',
    '## All rungs', '', markdownTable(head, cells), '',
    '## Highest clean rate per step', '', markdownTable(sumHead, sum), '',
    '## Against Kamailio 5.6.3', '', opt.compare ? `Kamailio anchor run in the same bench run (results in kamailio/).` : 'No anchor run (`--compare-kamailio` not given): only the KAMAILIO.md reference column applies.', '',
    markdownTable(kamHead, kam), '',
    ...(kamRows.length ? ['### Kamailio anchor rungs (this run)', '', markdownTable(kamAnchorHead, kamailioAnchorRows()), ''] : []),
    'Pass criterion (as KAMAILIO.md): every offered call completed, 0 failed, 0 retransmissions (UAC and UASes),',
    'no losing leg left ringing, and the rung finished within DUR + 3 s + hold. CPU = utime+stime of the server',
    'pid (/proc/<pid>/stat) over the rung, per completed operation. Latency: rtd1 = REGISTER→200 (both',
    'transactions) or INVITE→first 180; rtd2 = BYE→200 (SIPp, 1 ms resolution; WS: the client\'s own timer).', '',
  ].join('\n');
  fs.writeFileSync(path.join(OUT, 'summary.md'), md);
  fs.writeFileSync(path.join(OUT, 'summary.tsv'), rows.length ? tsv(rows) : '');
  fs.writeFileSync(path.join(OUT, 'machine.txt'), `${machine()}\n`);
  log(`results: ${path.join(OUT, 'summary.md')} and summary.tsv`);
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  log(`wac-ts bench -> ${OUT}`);
  if (opt.build) {
    log('npm run build (tsc)');
    const b = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    if (b.status !== 0) {
      fs.writeFileSync(path.join(OUT, 'build.log'), `${b.stdout}\n${b.stderr}`);
      if (!fs.existsSync(path.join(ROOT, 'dist', 'main.js'))) throw new Error('build failed and there is no dist/main.js');
      log(`WARNING: tsc reported errors (build.log); dist/ was still emitted and is what runs`);
    }
  }
  for (const tool of ['sipp', ...(opt.backends.includes('redis') ? ['redis-server'] : [])]) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed (apt-get install sip-tester redis-server)`);
  }
  for (const backend of opt.backends) {
    try {
      await runBackend(backend);
    } catch (err) {
      log(`backend ${backend} aborted: ${(err as Error).stack ?? String(err)}`);
    } finally {
      for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    }
  }
  if (opt.compare) await runKamailio();
  report();
}

main()
  .catch((err: Error) => {
    log(`bench failed: ${err.stack ?? err.message}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    await stopAll();
    fs.closeSync(runLog);
  });
