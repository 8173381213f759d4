/**
 * Just enough SIP for the torture tests: a byte-preserving (latin1) reader of the messages the server
 * sends back, the top-Via rewrite for UDP, and small builders for OPTIONS / REGISTER / ACK.
 * Deliberately independent of signaling/sip so that a parser bug in the server cannot hide itself.
 */
import { createHash, randomBytes } from 'node:crypto';

const COMPACT: Record<string, string> = {
  v: 'via', f: 'from', t: 'to', i: 'call-id', l: 'content-length', m: 'contact', c: 'content-type',
  e: 'content-encoding', k: 'supported', s: 'subject', o: 'event', r: 'refer-to', u: 'allow-events',
  x: 'session-expires', y: 'identity', n: 'identity-info', a: 'accept-contact', b: 'referred-by',
  j: 'reject-contact', d: 'request-disposition',
};

export interface LiteMessage {
  raw: Buffer;
  startLine: string;
  isResponse: boolean;
  /** Response status code (NaN for requests). */
  status: number;
  reason: string;
  /** Request method ('' for responses). */
  method: string;
  headers: Array<{ name: string; value: string }>;
  get(name: string): string | undefined;
  getAll(name: string): string[];
  body: Buffer;
}

function canonical(name: string): string {
  const n = name.trim().toLowerCase();
  return COMPACT[n] ?? n;
}

/** Index of the first CRLFCRLF (end of the header section), or -1. */
export function headerEnd(buf: Buffer): number {
  return buf.indexOf('\r\n\r\n', 0, 'latin1');
}

/** Parses a SIP message leniently (folded lines, compact names); bytes are kept as latin1 text. */
export function parseLite(buf: Buffer): LiteMessage {
  const end = headerEnd(buf);
  const head = buf.subarray(0, end < 0 ? buf.length : end).toString('latin1');
  const body = end < 0 ? Buffer.alloc(0) : buf.subarray(end + 4);
  const unfolded = head.replace(/\r\n[ \t]+/g, ' ');
  const lines = unfolded.split('\r\n');
  const startLine = lines.shift() ?? '';
  const headers: Array<{ name: string; value: string }> = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.push({ name: canonical(line.slice(0, colon)), value: line.slice(colon + 1).trim() });
  }
  const m = /^SIP\/2\.0 (\d+) ?(.*)$/.exec(startLine);
  return {
    raw: buf, startLine, body, headers,
    isResponse: m !== null,
    status: m ? Number(m[1]) : NaN,
    reason: m ? m[2] : '',
    method: m ? '' : startLine.split(' ')[0],
    get: (name) => headers.find((h) => h.name === canonical(name))?.value,
    getAll: (name) => headers.filter((h) => h.name === canonical(name)).map((h) => h.value),
  };
}

/** Every header-name position of `name` (long or compact form) in a raw header section. */
const VIA_START = /(^|\r\n)(via|v)[ \t]*:/gi;
const LWS = '(?:[ \\t]*\\r\\n)?[ \\t]*';
/** sent-protocol (with any LWS, even folded) then LWS, then the sent-by token. */
const SENT_BY = new RegExp(
  `^(${LWS}[!-~]+?${LWS}/${LWS}[!-~]+?${LWS}/${LWS}[^ \\t\\r\\n;,]+(?:[ \\t]*\\r\\n)?[ \\t]+)([^ \\t\\r\\n;,]+)`,
);

/**
 * Replaces the sent-by (host[:port]) of the FIRST value of the first Via header with `host:port`,
 * keeping every other byte as it is. Handles `Via`/`v`, any case, LWS before the colon, a value
 * folded over several lines, several comma-separated values. Returns null when no Via is found.
 */
export function rewriteTopVia(buf: Buffer, host: string, port: number): Buffer | null {
  const end = headerEnd(buf);
  const head = buf.subarray(0, end < 0 ? buf.length : end).toString('latin1');
  VIA_START.lastIndex = 0;
  // Skip the start line: a header starts after a CRLF that is not followed by whitespace.
  let match: RegExpExecArray | null;
  let at = -1;
  while ((match = VIA_START.exec(head)) !== null) {
    if (match.index === 0 && match[1] === '') continue; // the start line itself
    at = match.index + match[0].length;
    break;
  }
  if (at < 0) return null;
  const sent = SENT_BY.exec(head.slice(at));
  if (!sent) return null;
  const from = at + sent[1].length;
  const to = from + sent[2].length;
  return Buffer.concat([
    buf.subarray(0, from), Buffer.from(`${host}:${port}`, 'latin1'), buf.subarray(to),
  ]);
}

export function token(n = 8): string {
  return randomBytes(n).toString('hex');
}

export function md5(s: string): string {
  return createHash('md5').update(s).digest('hex');
}

export interface Local {
  transport: 'WS' | 'UDP';
  /** Via sent-by host (e.g. `abc.invalid` for WS) and port. */
  host: string;
  port: number;
}

function via(local: Local): string {
  return `SIP/2.0/${local.transport} ${local.host}:${local.port};rport;branch=z9hG4bK${token()}`;
}

/** `OPTIONS sip:<domain>` addressed to the server itself. */
export function buildOptions(domain: string, local: Local, callId = `probe-${token()}`): { buf: Buffer; callId: string } {
  const text = [
    `OPTIONS sip:${domain} SIP/2.0`,
    `Via: ${via(local)}`,
    'Max-Forwards: 70',
    `From: <sip:probe@${domain}>;tag=${token(4)}`,
    `To: <sip:${domain}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 OPTIONS',
    'Accept: application/sdp',
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
  return { buf: Buffer.from(text, 'latin1'), callId };
}

export interface RegisterArgs {
  domain: string;
  user: string;
  local: Local;
  callId: string;
  cseq: number;
  contact: string;
  authorization?: string;
  expires?: number;
}

export function buildRegister(a: RegisterArgs): Buffer {
  const lines = [
    `REGISTER sip:${a.domain} SIP/2.0`,
    `Via: ${via(a.local)}`,
    'Max-Forwards: 70',
    `From: <sip:${a.user}@${a.domain}>;tag=${token(4)}`,
    `To: <sip:${a.user}@${a.domain}>`,
    `Call-ID: ${a.callId}`,
    `CSeq: ${a.cseq} REGISTER`,
    `Contact: ${a.contact}`,
    `Expires: ${a.expires ?? 600}`,
  ];
  if (a.authorization) lines.push(`Authorization: ${a.authorization}`);
  lines.push('Content-Length: 0', '', '');
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

/** Parses the parameters of a `Digest ...` challenge. */
export function parseChallenge(value: string): Record<string, string> | null {
  const m = /^\s*Digest\s+(.*)$/is.exec(value);
  if (!m) return null;
  const out: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]+)/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[1])) !== null) out[p[1].toLowerCase()] = p[3] ?? p[2];
  return out;
}

/** An Authorization value answering `challenge` (MD5, qop=auth when offered). */
export function digestAnswer(challenge: string, method: string, uri: string, user: string, password: string): string {
  const c = parseChallenge(challenge);
  if (!c || !c.realm || !c.nonce) throw new Error(`not a Digest challenge: ${challenge}`);
  const ha1 = md5(`${user}:${c.realm}:${password}`);
  const ha2 = md5(`${method}:${uri}`);
  const qop = c.qop?.split(',').map((q) => q.trim()).includes('auth') ? 'auth' : undefined;
  const cnonce = token(6);
  const nc = '00000001';
  const response = qop ? md5(`${ha1}:${c.nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : md5(`${ha1}:${c.nonce}:${ha2}`);
  let v = `Digest username="${user}", realm="${c.realm}", nonce="${c.nonce}", uri="${uri}", response="${response}", algorithm=MD5`;
  if (qop) v += `, qop=${qop}, nc=${nc}, cnonce="${cnonce}"`;
  if (c.opaque) v += `, opaque="${c.opaque}"`;
  return v;
}

/**
 * The ACK for a non-2xx final response to an INVITE (RFC 3261 §17.1.1.3): same Request-URI, top Via
 * (taken from the response, where the server copied it), From, Call-ID, CSeq number; To from the
 * response (with its tag). Built as latin1 so odd bytes in the copied headers stay as they are.
 */
export function buildAckFor(res: LiteMessage, requestUri: string): Buffer | null {
  const topVia = res.get('via');
  const from = res.get('from');
  const to = res.get('to');
  const callId = res.get('call-id');
  const cseq = res.get('cseq');
  if (!topVia || !from || !to || !callId || !cseq) return null;
  const firstVia = topVia.split(',')[0].trim();
  const seq = cseq.trim().split(/\s+/)[0];
  const text = [
    `ACK ${requestUri} SIP/2.0`, `Via: ${firstVia}`, 'Max-Forwards: 70', `From: ${from}`, `To: ${to}`,
    `Call-ID: ${callId}`, `CSeq: ${seq} ACK`, 'Content-Length: 0', '', '',
  ].join('\r\n');
  return Buffer.from(text, 'latin1');
}
