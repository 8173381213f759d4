/**
 * Running SIPp (Debian package sip-tester) as a real UDP peer in tests: free loopback ports, one
 * process per scenario started with -m 1, bounded by -timeout, killed by pid when a test ends early,
 * and its statistics CSV read back to count successful / failed calls.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SIPP_SCENARIOS = path.resolve(__dirname, '../sipp');

/** Absolute path of the sipp binary, or null when it is not installed. */
export function findSipp(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v sipp'], { encoding: 'utf8' });
  const p = r.status === 0 ? r.stdout.trim() : '';
  return p !== '' ? p : null;
}

/** The version line of `sipp -v` (it exits non-zero by design, so only the output is checked). */
export function sippVersion(bin: string): string {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 5000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).find((l) => /SIPp v/i.test(l)) ?? '';
}

const handedOut = new Set<number>();

/** A UDP port on 127.0.0.1 that nobody is bound to right now (and that we have not handed out yet). */
export async function freeUdpPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = dgram.createSocket('udp4');
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free UDP port found');
}

/**
 * A port for sipp's `-mp`: sipp binds that port for audio and the port two above it for video, and
 * exits at start when either is taken, so both must be free.
 */
async function freeMediaPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freeUdpPort();
    if (port + 2 <= 65535 && !handedOut.has(port + 2) && !(await udpPortBusy(port + 2))) {
      handedOut.add(port + 2);
      return port;
    }
    handedOut.delete(port);
  }
  throw new Error('no free pair of UDP media ports found');
}

/** True once something is bound to UDP 127.0.0.1:port (sipp is listening). */
export async function udpPortBusy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(true));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(false)));
  });
}

export interface SippOptions {
  /** Name used for the files in the work folder. */
  name: string;
  /** Scenario file name in test/sipp/ (or an absolute path). */
  scenario: string;
  /** host:port of the server. */
  remote: string;
  localPort: number;
  /** -i: the local address SIPp binds to and puts in its messages (default 127.0.0.1). */
  localIp?: string;
  /** -s: the user part of the Request-URI. */
  service?: string;
  /**
   * -auth_uri: the digest `uri` SIPp puts in [authentication] (it defaults to remote_ip:remote_port,
   * which a server that checks uri == Request-URI rightly refuses). SIPp prefixes it with `sip:`.
   */
  authUri?: string;
  /** Content of the -inf injection file (first line SEQUENTIAL / RANDOM / USER). */
  injection?: string;
  /** -timeout in seconds: sipp gives up (and fails, -timeout_error) after this. */
  timeoutS: number;
  extraArgs?: string[];
}

export interface SippResult {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Last row of the -trace_stat CSV, by column name; null when sipp wrote none. */
  stats: Record<string, string> | null;
  /** Contents of the error and message trace files (for diagnostics). */
  errors: string;
  messages: string;
}

export interface SippProcess {
  pid: number;
  name: string;
  done: Promise<SippResult>;
  kill(): void;
}

const running = new Set<SippProcess>();

/** Kills every sipp this module started and has not seen exit yet, each by its own pid. */
export function killAllSipp(): void {
  for (const p of running) p.kill();
}

export function makeWorkDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'wac-sipp-'));
}

function readIf(file: string): string {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}

/** Parses sipp's ';'-separated statistics file into the last row keyed by the header row. */
export function parseStats(csv: string): Record<string, string> | null {
  const lines = csv.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) return null;
  const head = lines[0].split(';');
  const last = lines[lines.length - 1].split(';');
  const out: Record<string, string> = {};
  head.forEach((h, i) => {
    if (h !== '') out[h] = last[i] ?? '';
  });
  return out;
}

/** Cumulative count of a stats column such as SuccessfulCall(C) / FailedCall(C). */
export function statCount(stats: Record<string, string> | null, column: string): number {
  if (!stats || !(column in stats)) return NaN;
  return Number(stats[column]);
}

/** Starts one sipp process running one call (-m 1) of a scenario, over UDP on 127.0.0.1. */
export async function startSipp(bin: string, dir: string, o: SippOptions): Promise<SippProcess> {
  const scenario = path.isAbsolute(o.scenario) ? o.scenario : path.join(SIPP_SCENARIOS, o.scenario);
  const statFile = path.join(dir, `${o.name}.stat.csv`);
  const errFile = path.join(dir, `${o.name}.errors.log`);
  const msgFile = path.join(dir, `${o.name}.messages.log`);
  const controlPort = await freeUdpPort();
  const mediaPort = await freeMediaPort();
  const args = [
    o.remote, '-sf', scenario, '-t', 'u1', '-i', o.localIp ?? '127.0.0.1', '-p', String(o.localPort),
    '-m', '1', '-l', '1', '-r', '1',
    '-timeout', `${o.timeoutS}s`, '-timeout_error', '-nostdin',
    '-cp', String(controlPort), '-mp', String(mediaPort), '-mi', '127.0.0.1',
    '-trace_stat', '-stf', statFile, '-fd', '1',
    '-trace_err', '-error_file', errFile,
    '-trace_msg', '-message_file', msgFile,
  ];
  if (o.service) args.push('-s', o.service);
  if (o.authUri) args.push('-auth_uri', o.authUri);
  if (o.injection !== undefined) {
    const inf = path.join(dir, `${o.name}.csv`);
    fs.writeFileSync(inf, o.injection);
    args.push('-inf', inf);
  }
  args.push(...(o.extraArgs ?? []));

  const child: ChildProcess = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    if (stdout.length < 200_000) stdout += d.toString('latin1');
  });
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 200_000) stderr += d.toString('latin1');
  });
  let exited = false;
  const proc: SippProcess = {
    pid: child.pid ?? -1,
    name: o.name,
    kill() {
      if (!exited && child.pid) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    },
    done: new Promise<SippResult>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (exited) return;
        exited = true;
        running.delete(proc);
        resolve({
          name: o.name, code, signal, stdout, stderr,
          stats: parseStats(readIf(statFile)), errors: readIf(errFile), messages: readIf(msgFile),
        });
      };
      child.once('error', (err) => {
        stderr += String(err);
        finish(null, null);
      });
      child.once('close', finish);
    }),
  };
  running.add(proc);
  return proc;
}

/** Waits until sipp has bound its UDP port (or `ms` passed). */
export async function waitListening(port: number, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await udpPortBusy(port)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** A readable summary of a finished sipp run, for assertion messages. */
export function describeRun(r: SippResult): string {
  const tail = (s: string, n = 3000) => (s.length > n ? `...${s.slice(-n)}` : s);
  return [
    `sipp ${r.name}: exit ${r.code}${r.signal ? ` (signal ${r.signal})` : ''}`,
    `stats: ${r.stats ? `SuccessfulCall(C)=${r.stats['SuccessfulCall(C)']} FailedCall(C)=${r.stats['FailedCall(C)']}` : 'none'}`,
    r.errors.trim() ? `errors:\n${tail(r.errors)}` : '',
    r.stderr.trim() ? `stderr:\n${tail(r.stderr)}` : '',
    r.messages.trim() ? `messages:\n${tail(r.messages, 6000)}` : '',
  ].filter(Boolean).join('\n');
}

export interface SippMessage {
  dir: 'sent' | 'received';
  /** The SIP message, CRLF line ends. */
  text: string;
}

/**
 * The SIP messages of a -trace_msg log, in order. Each entry starts with a line of dashes and a
 * timestamp, then "UDP message sent (N bytes):" or "UDP message received [N] bytes :", a blank
 * line and the message.
 */
export function parseSippMessages(log: string): SippMessage[] {
  const out: SippMessage[] = [];
  for (const chunk of log.split(/^-{10,}[^\n]*\n/m)) {
    const m = /^\s*\S+ message (sent|received)[^\n]*\n\s*\n([\s\S]*)$/.exec(chunk);
    if (!m) continue;
    const lines = m[2].replace(/\r/g, '').split('\n');
    // Headers end at the first empty line; keep the body, drop the log's trailing blank lines.
    const blank = lines.indexOf('');
    const head = blank < 0 ? lines : lines.slice(0, blank);
    const body = blank < 0 ? '' : lines.slice(blank + 1).join('\r\n').replace(/(\r\n)+$/, '\r\n');
    if (head.length === 0 || head[0].trim() === '') continue;
    out.push({ dir: m[1] as 'sent' | 'received', text: `${head.join('\r\n')}\r\n\r\n${body.trim() === '' ? '' : body}` });
  }
  return out;
}
