/** SIPp runs for the bench: bounded UAC rungs, long-lived UASes, and their statistics CSVs. */
import fs from 'node:fs';
import path from 'node:path';
import { freePort, HOST, Proc, startProc } from './proc';

export type Stats = Record<string, string>;

/** Last row of a sipp -trace_stat CSV (';'-separated), keyed by the header row; null when absent. */
export function readStats(file: string): Stats | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch {
    return null;
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) return null;
  const head = lines[0].split(';');
  const last = lines[lines.length - 1].split(';');
  const out: Stats = {};
  head.forEach((h, i) => {
    if (h !== '') out[h] = last[i] ?? '';
  });
  return out;
}

export function num(stats: Stats | null, col: string): number {
  if (!stats || !(col in stats)) return NaN;
  return Number(stats[col]);
}

/** "HH:MM:SS:uuuuuu" (sipp ElapsedTime) in seconds. */
export function elapsedSeconds(stats: Stats | null): number {
  const v = stats?.['ElapsedTime(C)'];
  if (!v) return NaN;
  const [h, m, s, us] = v.split(':').map(Number);
  return h * 3600 + m * 60 + s + (us || 0) / 1e6;
}

/**
 * Response-time repartition of rtd `idx` (cumulative columns ResponseTimeRepartition<idx>_<1 ...):
 * bucket label -> count, in the order sipp writes them.
 */
export function rtdBuckets(stats: Stats | null, idx: number): Array<[string, number]> {
  if (!stats) return [];
  const prefix = `ResponseTimeRepartition${idx}_`;
  return Object.keys(stats)
    .filter((k) => k.startsWith(prefix))
    .map((k): [string, number] => [k.slice(prefix.length), Number(stats[k])]);
}

/** Share (0..1) of the responses under `ms` milliseconds; NaN when there were none. */
export function shareBelow(buckets: Array<[string, number]>, ms: number): number {
  let total = 0, below = 0;
  for (const [label, n] of buckets) {
    total += n;
    const m = /^<(\d+)$/.exec(label);
    if (m && Number(m[1]) <= ms) below += n;
  }
  return total > 0 ? below / total : NaN;
}

export interface UacRun {
  stats: Stats | null;
  code: number | null;
  /** Wall time of the sipp process, s */
  wallS: number;
}

export interface UacOptions {
  tag: string;
  dir: string;
  remotePort: number;
  localPort: number;
  scenario: string;
  rate: number;
  calls: number;
  durS: number;
  args: string[];
}

/** One rung: `calls` calls offered at `rate`/s, bounded by sipp's -timeout and a hard outer bound. */
export async function runUac(o: UacOptions): Promise<UacRun> {
  const base = path.join(o.dir, o.tag);
  const args = [
    `${HOST}:${o.remotePort}`, '-sf', o.scenario, '-i', HOST, '-p', String(o.localPort), '-t', 'u1',
    '-r', String(o.rate), '-rp', '1000', '-m', String(o.calls), '-nostdin',
    '-buff_size', '1048576', '-recv_timeout', '10000', '-timeout', `${o.durS + 90}s`,
    '-cp', String(await freePort()), '-mp', String(await freePort()), '-mi', HOST,
    '-trace_stat', '-stf', `${base}.csv`, '-fd', '1',
    '-trace_screen', '-screen_file', `${base}.screen`,
    '-trace_err', '-error_file', `${base}.errors.log`,
    ...o.args,
  ];
  const t0 = process.hrtime.bigint();
  const p = startProc(`sipp ${o.tag}`, 'sipp', args, { maxMs: (o.durS + 120) * 1000 });
  const code = await p.exited;
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  return { stats: readStats(`${base}.csv`), code, wallS };
}

export interface Uas {
  port: number;
  proc: Proc;
  csv: string;
}

/** A UAS sipp listening on `port` until stopped (its own -timeout bounds it if the bench dies hard). */
export async function startUas(dir: string, port: number, scenario: string, extra: string[], lifeS: number): Promise<Uas> {
  const tag = `uas_${port}_${Date.now()}`;
  const csv = path.join(dir, `${tag}.csv`);
  const args = [
    '-sf', scenario, '-i', HOST, '-p', String(port), '-t', 'u1', '-nostdin', '-buff_size', '1048576',
    '-cp', String(await freePort()), '-mp', String(await freePort()), '-mi', HOST,
    '-trace_stat', '-stf', csv, '-fd', '1', '-trace_err', '-error_file', path.join(dir, `${tag}.errors.log`),
    '-timeout', `${lifeS}s`, ...extra,
  ];
  const proc = startProc(`sipp uas ${port}`, 'sipp', args, { maxMs: (lifeS + 30) * 1000 });
  return { port, proc, csv };
}

export interface UasCounts {
  ok: number;
  failed: number;
  retrans: number;
}

export function uasCounts(u: Uas): UasCounts {
  const s = readStats(u.csv);
  return {
    ok: num(s, 'SuccessfulCall(C)') || 0,
    failed: num(s, 'FailedCall(C)') || 0,
    retrans: num(s, 'Retransmissions(C)') || 0,
  };
}
