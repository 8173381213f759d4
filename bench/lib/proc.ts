/**
 * Processes the bench starts (server, redis-server, sipp, WS clients): each is tracked by pid and
 * killed by that pid when the bench ends, on an error, on Ctrl-C and on TERM. Also the /proc readers
 * (CPU ticks, RSS, UDP receive-buffer errors) and free loopback ports.
 */
import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';

export const HOST = '127.0.0.1';
/** Clock ticks per second for /proc/<pid>/stat utime/stime (getconf CLK_TCK is 100 on Linux). */
export const CLK_TCK = 100;

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<Proc>();

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function alive(p: Proc): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

/**
 * Spawns a tracked process. `maxMs` is a hard wall-clock bound: the process is killed (TERM, then KILL)
 * once it is exceeded, whatever it is doing.
 */
export function startProc(name: string, cmd: string, args: string[], opts: SpawnOptions & { maxMs?: number } = {}): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'], ...opts });
  if (child.pid === undefined) throw new Error(`cannot start ${name} (${cmd})`);
  let bound: NodeJS.Timeout | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      if (bound) clearTimeout(bound);
      live.delete(proc);
      resolve(code);
    });
    child.once('error', () => {
      if (bound) clearTimeout(bound);
      live.delete(proc);
      resolve(null);
    });
  });
  const proc: Proc = {
    name, pid: child.pid, child, exited,
    async stop(graceMs = 3000) {
      if (!alive(proc)) return;
      try {
        process.kill(proc.pid, 'SIGTERM');
      } catch {
        return;
      }
      const t = setTimeout(() => {
        try {
          if (alive(proc)) process.kill(proc.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, graceMs);
      await exited;
      clearTimeout(t);
    },
  };
  if (opts.maxMs !== undefined) {
    bound = setTimeout(() => void proc.stop(2000), opts.maxMs);
    bound.unref();
  }
  live.add(proc);
  return proc;
}

/** Stops every process still running, each by its own pid. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

let hooked = false;
/** Kills what is left on exit, Ctrl-C and TERM (synchronously with SIGKILL on 'exit'). */
export function installCleanup(onSignal: () => Promise<void>): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const p of live) {
      try {
        if (alive(p)) process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  let stopping = false;
  const onSig = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\nbench: ${sig}, stopping everything it started\n`);
    const hard = setTimeout(() => process.exit(130), 8000);
    hard.unref();
    void onSignal().finally(() => stopAll().finally(() => process.exit(130)));
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
}

/** utime + stime of one process (all its threads), in clock ticks; NaN when it is gone. */
export function cpuTicks(pid: number, tid?: number): number {
  try {
    // With `tid`, one thread's share (the main thread's tid is the pid).
    const s = fs.readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'latin1');
    // comm may contain spaces: fields start after the last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state); utime = field 14, stime = field 15
    return Number(f[11]) + Number(f[12]);
  } catch {
    return NaN;
  }
}

/** cutime + cstime of this process: CPU of children it has reaped (sipp clients that exited). */
export function reapedChildTicks(): number {
  const s = fs.readFileSync('/proc/self/stat', 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[13]) + Number(f[14]);
}

/** A field of /proc/<pid>/status in kB (VmRSS, VmHWM), NaN when unavailable. */
export function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Resets VmHWM of a process to its current RSS (root or same user; false when not allowed). */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Peak RSS over a step: VmHWM after a reset when the kernel lets us, else the highest VmRSS sampled
 * every 100 ms.
 */
export class PeakRss {
  private max = 0;
  private timer: NodeJS.Timeout;
  private readonly hwm: boolean;

  constructor(private readonly pid: number) {
    this.hwm = resetPeakRss(pid);
    this.timer = setInterval(() => this.sample(), 100);
    this.sample();
  }

  private sample(): void {
    const v = statusKb(this.pid, 'VmRSS');
    if (v > this.max) this.max = v;
  }

  /** kB */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    const hwm = this.hwm ? statusKb(this.pid, 'VmHWM') : NaN;
    return Number.isFinite(hwm) ? Math.max(hwm, this.max) : this.max;
  }
}

/**
 * A thread's busiest second over a step, in cores, sampled each second. A rung's average hides a
 * saturated thread: a failed rung runs on past its load, waiting out retransmissions.
 */
export class BusiestSecond {
  /** NaN until a whole second was sampled: a step too short for one has no busiest second. */
  private max = NaN;
  private ticks: number;
  private at = process.hrtime.bigint();
  private timer: NodeJS.Timeout;

  constructor(pid: number, tid: number) {
    this.ticks = cpuTicks(pid, tid);
    this.timer = setInterval(() => {
      const ticks = cpuTicks(pid, tid);
      const at = process.hrtime.bigint();
      const cores = (ticks - this.ticks) / CLK_TCK / (Number(at - this.at) / 1e9);
      if (Number.isFinite(cores) && !(cores <= this.max)) this.max = cores;
      this.ticks = ticks;
      this.at = at;
    }, 1000);
    this.timer.unref();
  }

  stop(): number {
    clearInterval(this.timer);
    return this.max;
  }
}

/** Udp RcvbufErrors from /proc/net/snmp (system-wide: other processes' drops count too). */
export function udpRcvbufErrors(): number {
  try {
    const lines = fs.readFileSync('/proc/net/snmp', 'latin1').split('\n').filter((l) => l.startsWith('Udp:'));
    const head = lines[0].split(/\s+/);
    const vals = lines[1].split(/\s+/);
    return Number(vals[head.indexOf('RcvbufErrors')]);
  } catch {
    return NaN;
  }
}

/** Datagrams dropped by the UDP socket(s) bound to this local port (/proc/net/udp `drops`), NaN if none. */
export function udpSocketDrops(port: number): number {
  try {
    const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    let sum = NaN;
    for (const line of fs.readFileSync('/proc/net/udp', 'latin1').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 12 && f[1].endsWith(hex)) sum = (Number.isNaN(sum) ? 0 : sum) + Number(f[f.length - 1]);
    }
    return sum;
  } catch {
    return NaN;
  }
}

const handedOut = new Set<number>();

/** A port free on 127.0.0.1 for both UDP and TCP, never handed out twice by this process. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, HOST, () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    if (handedOut.has(port)) continue;
    const udpFree = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, HOST, () => s.close(() => resolve(true)));
    });
    if (!udpFree) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port on 127.0.0.1');
}

/** Waits until a TCP port accepts connections, or throws after `timeoutMs`. */
export async function waitTcp(port: number, timeoutMs: number, isAlive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, HOST);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!isAlive()) throw new Error(`process exited before port ${port} opened`);
    if (Date.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await sleep(50);
  }
}
