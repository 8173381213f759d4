/** The bench's result rows, the printed/written tables, and the Kamailio anchor's results. */
import fs from 'node:fs';
import path from 'node:path';

export interface Row {
  backend: string;
  step: string;
  /** offered rate per second; 0 = as fast as possible (WS) or n/a (idle) */
  rate: number;
  offered: number;
  ok: number;
  failed: number;
  retransUac: number;
  retransUas: number;
  uasOk: number;
  uasFailed: number;
  stuck: number;
  /** load generator's own elapsed time, s */
  elapsedS: number;
  /** achieved ops/s */
  achieved: number;
  rtd1Lt1: number;
  rtd1Ge10: number;
  rtd2Ge10: number;
  serverCores: number;
  /** server CPU µs per completed op */
  usPerOp: number;
  peakRssMb: number;
  /** redis-server CPU µs per op (redis backend only) */
  storeUsPerOp: number;
  /** CPU of the load generators (sipp UAC + UASes, or the WS client), cores */
  loadCores: number;
  rcvbufErrors: number;
  verdict: 'PASS' | 'FAIL' | 'INFO';
  note: string;
}

const pctf = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–');
const f = (v: number, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : '–');
const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');

export const COLUMNS: Array<[string, (r: Row) => string]> = [
  ['backend', (r) => r.backend],
  ['step', (r) => r.step],
  ['rate/s', (r) => (r.step === 'idle_ws' ? '–' : r.rate === 0 ? 'max' : int(r.rate))],
  ['ok/offered', (r) => `${int(r.ok)}/${int(r.offered)}`],
  ['failed', (r) => int(r.failed)],
  ['retrans uac/uas', (r) => `${int(r.retransUac)}/${int(r.retransUas)}`],
  ['stuck legs', (r) => int(r.stuck)],
  ['achieved/s', (r) => int(r.achieved)],
  ['elapsed s', (r) => f(r.elapsedS, 1)],
  ['rtd1 <1ms', (r) => pctf(r.rtd1Lt1)],
  ['rtd1 ≥10ms', (r) => pctf(r.rtd1Ge10)],
  ['rtd2 ≥10ms', (r) => pctf(r.rtd2Ge10)],
  ['server cores', (r) => f(r.serverCores, 2)],
  ['server µs/op', (r) => f(r.usPerOp)],
  ['peak RSS MB', (r) => f(r.peakRssMb, 0)],
  ['redis µs/op', (r) => f(r.storeUsPerOp)],
  ['loadgen cores', (r) => f(r.loadCores, 2)],
  ['rcvbuf err', (r) => int(r.rcvbufErrors)],
  ['verdict', (r) => r.verdict],
  ['note', (r) => r.note],
];

export function markdownTable(head: string[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** Fixed-width text for the terminal. */
export function textTable(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

export function rowCells(rows: Row[]): { head: string[]; cells: string[][] } {
  return { head: COLUMNS.map(([h]) => h), cells: rows.map((r) => COLUMNS.map(([, get]) => get(r))) };
}

export function tsv(rows: Row[]): string {
  const keys = Object.keys(rows[0] ?? {}) as Array<keyof Row>;
  return [keys.join('\t'), ...rows.map((r) => keys.map((k) => String(r[k])).join('\t'))].join('\n') + '\n';
}

/** The highest clean rung of a step, and its row. */
export function best(rows: Row[], backend: string, step: string): Row | undefined {
  return rows.filter((r) => r.backend === backend && r.step === step && r.verdict === 'PASS').sort((a, b) => (a.rate || 1e12) - (b.rate || 1e12)).pop();
}

// ---------------------------------------------------------------- Kamailio anchor

export interface KamRow {
  kind: string;
  rate: number;
  ok: number;
  offered: number;
  failed: number;
  stuck: number;
  usPerOp: number;
  verdict: string;
}

/** summary.tsv of run-kamailio-anchor.sh, plus its WS lines (ws-summary.txt) as kind ws_reg. */
export function readKamailio(dir: string): KamRow[] {
  const out: KamRow[] = [];
  try {
    const lines = fs.readFileSync(path.join(dir, 'summary.tsv'), 'utf8').trim().split('\n');
    const head = lines[0].split('\t');
    for (const l of lines.slice(1)) {
      const c = l.split('\t');
      const g = (k: string) => c[head.indexOf(k)];
      out.push({
        kind: g('kind'), rate: Number(g('rate')), ok: Number(g('ok')), offered: Number(g('offered')),
        failed: Number(g('failed')), stuck: Number(g('stuck_legs')), usPerOp: Number(g('kam_cpu_us_per_op')), verdict: g('verdict'),
      });
    }
  } catch {
    /* no summary */
  }
  try {
    for (const l of fs.readFileSync(path.join(dir, 'ws-summary.txt'), 'utf8').trim().split('\n')) {
      const m = /^ws_load rate=(\d+) kamailio_cores=([\d.]+) (\{.*\})$/.exec(l);
      if (!m) continue;
      const j = JSON.parse(m[3]) as { ok: number; failed: number; started: number; reg_per_s: number };
      const cores = Number(m[2]);
      out.push({
        kind: 'ws_reg', rate: Number(m[1]), ok: j.ok, offered: j.started, failed: j.failed, stuck: 0,
        usPerOp: j.reg_per_s > 0 ? (cores * 1e6) / j.reg_per_s : NaN, verdict: j.failed === 0 ? 'PASS' : 'FAIL',
      });
    }
  } catch {
    /* no WS results */
  }
  return out;
}

/** Figures published in ../shared/bench/KAMAILIO.md (run 2, 4 UDP workers), for when no anchor ran. */
export const KAMAILIO_REFERENCE: Record<string, { rate: string; usPerOp: string; extra?: string }> = {
  reg_udp: { rate: '20,000/s clean (22,000 knee)', usPerOp: '30–35' },
  reg_ws: { rate: 'paced 5,000/s; max 13,274/s', usPerOp: '86 paced / 68 max' },
  call: { rate: '5,000 cps', usPerOp: '190–210' },
  group: { rate: '2,500 cps', usPerOp: '330–350' },
  race: { rate: '300 cps', usPerOp: '–', extra: '126 of 12,000 losing legs stuck (1.05%)' },
  idle_ws: { rate: '–', usPerOp: '–', extra: '82 KB per idle registered WS connection' },
};

/** Our step names -> the anchor's kinds. */
export const KAM_KIND: Record<string, string> = { reg_udp: 'reg', call: 'call', group: 'group', race: 'group_nodelay', reg_ws: 'ws_reg' };
