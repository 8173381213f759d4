/**
 * HTTP Digest for SIP (RFC 3261 §22, RFC 2617): MD5 with qop="auth" only, since JsSIP picks auth-int
 * whenever offered. Nonces are self-validating (time + HMAC) and expire; a (nonce, nc) pair is
 * accepted once, which stops replays without keeping per-challenge state.
 */
import { hash, randomBytes } from 'node:crypto';
import { closingQuote, dropSpace, isSpace, skipSpace, unescapeQuoted } from '../sip/headers';
import { mac, safeEqual } from './mac';

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
  opaque?: string;
  algorithm?: string;
}

export type Verdict = 'ok' | 'stale' | 'bad';

export function md5(s: string): string {
  return hash('md5', s);
}

/**
 * The parameters of a `Digest k=v, k="v"` value (a challenge or credentials) as flat pairs: names
 * lower-cased, quoted values unquoted; null for another scheme. One pass, no intermediate strings:
 * it runs on every authenticated REGISTER and INVITE.
 */
function digestParams(value: string): string[] | null {
  const n = value.length;
  let i = skipSpace(value, 0, n);
  if (n - i < 7 || value.slice(i, i + 6).toLowerCase() !== 'digest' || skipSpace(value, i + 6, n) === i + 6) return null;
  const out: string[] = [];
  for (i += 6; i < n; ) {
    const c = value.charCodeAt(i);
    if (c === 0x2c || isSpace(c)) {
      i++;
      continue;
    }
    const nameStart = i;
    while (i < n && value.charCodeAt(i) !== 0x3d && value.charCodeAt(i) !== 0x2c) i++;
    // A part without '=' carries nothing.
    if (i >= n || value.charCodeAt(i) === 0x2c) continue;
    const name = lowerCase(value.slice(nameStart, dropSpace(value, nameStart, i)));
    const vs = skipSpace(value, i + 1, n);
    let v: string | null = null;
    i = vs;
    if (value.charCodeAt(vs) === 0x22) {
      const j = closingQuote(value, vs);
      const after = skipSpace(value, j + 1, n);
      if (j < n && (after === n || value.charCodeAt(after) === 0x2c)) {
        v = unescapeQuoted(value.slice(vs + 1, j));
        i = after;
      } else i = j < n ? j + 1 : n;
    }
    // Unquoted, or not a well-formed quoted string: the text as written up to the next comma.
    if (v === null) {
      while (i < n && value.charCodeAt(i) !== 0x2c) i++;
      v = value.slice(vs, dropSpace(value, vs, i));
    }
    out.push(name, v);
  }
  return out;
}

// Clients write the names in lower case; toLowerCase() would copy them all the same.
function lowerCase(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return s.toLowerCase();
  }
  return s;
}

/** Parses `Digest k=v, k="v"` into credentials; null for other schemes or missing fields. */
export function parseDigest(value: string): DigestCredentials | null {
  const p = digestParams(value);
  if (!p) return null;
  // A fixed shape, filled by name: the parameters a client may add beyond these are of no use here.
  const c: DigestCredentials = {
    username: '', realm: '', nonce: '', uri: '', response: '',
    qop: undefined, nc: undefined, cnonce: undefined, opaque: undefined, algorithm: undefined,
  };
  for (let k = 0; k < p.length; k += 2) {
    const v = p[k + 1];
    switch (p[k]) {
      case 'username': c.username = v; break;
      case 'realm': c.realm = v; break;
      case 'nonce': c.nonce = v; break;
      case 'uri': c.uri = v; break;
      case 'response': c.response = v; break;
      case 'qop': c.qop = v; break;
      case 'nc': c.nc = v; break;
      case 'cnonce': c.cnonce = v; break;
      case 'opaque': c.opaque = v; break;
      case 'algorithm': c.algorithm = v; break;
      default:
    }
  }
  if (!c.username || !c.realm || !c.nonce || !c.uri || !c.response) return null;
  return c;
}

/**
 * Issues and checks nonces. A nonce is `<seq>.<time>.<mac>`: the MAC makes it unforgeable, the time
 * bounds its life, and the sequence number is what replay detection remembers — as numbers in two
 * generations swapped every nonce lifetime, so that memory stays flat under any REGISTER rate.
 * A nonce is accepted once; a client that reuses one gets `stale=true` and simply retries.
 */
export class DigestAuthenticator {
  private readonly secret = randomBytes(32).toString('base64');
  private seq = 0;
  private usedNow = new Set<number>();
  private usedBefore = new Set<number>();
  private sweeper: NodeJS.Timeout;

  constructor(private readonly nonceTtlMs = 300_000) {
    this.sweeper = setInterval(() => {
      this.usedBefore = this.usedNow;
      this.usedNow = new Set();
    }, nonceTtlMs);
    this.sweeper.unref();
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  newNonce(): string {
    const body = `${(this.seq++).toString(36)}.${Date.now().toString(36)}`;
    return `${body}.${this.sign(body)}`;
  }

  /** The value of a WWW-Authenticate / Proxy-Authenticate header. */
  challenge(realm: string, stale = false): string {
    return `Digest realm="${realm}", nonce="${this.newNonce()}", algorithm=MD5, qop="auth"${stale ? ', stale=true' : ''}`;
  }

  /** Checks a response computed with the stored HA1 = MD5(username:realm:password). */
  verify(c: DigestCredentials, method: string, ha1: string): Verdict {
    if (c.algorithm && c.algorithm.toUpperCase() !== 'MD5') return 'bad';
    const parts = c.nonce.split('.');
    if (parts.length !== 3 || !safeEqual(parts[2], this.sign(`${parts[0]}.${parts[1]}`))) return 'bad';
    const seq = parseInt(parts[0], 36);
    const issued = parseInt(parts[1], 36);
    const ha2 = md5(`${method}:${c.uri}`);
    let expected: string;
    if (c.qop) {
      if (c.qop !== 'auth' || !c.nc || !/^[0-9a-fA-F]{8}$/.test(c.nc) || !c.cnonce) return 'bad';
      expected = md5(`${ha1}:${c.nonce}:${c.nc}:${c.cnonce}:${c.qop}:${ha2}`);
    } else expected = md5(`${ha1}:${c.nonce}:${ha2}`);
    if (!safeEqual(expected, c.response.toLowerCase())) return 'bad';
    // Only a correct response may learn that its nonce is stale (RFC 2617 §3.2.1).
    if (Date.now() - issued > this.nonceTtlMs) return 'stale';
    if (this.usedNow.has(seq) || this.usedBefore.has(seq)) return 'stale';
    this.usedNow.add(seq);
    return 'ok';
  }

  private sign(s: string): string {
    return mac(this.secret, s, 22);
  }
}

/**
 * The client side: an Authorization / Proxy-Authorization value answering `challenge` (a
 * WWW-/Proxy-Authenticate value), as the proxy does towards a trunk that challenges it.
 */
export function answerChallenge(challenge: string, username: string, password: string, method: string, uri: string, nc = '00000001'): string | null {
  const pairs = digestParams(challenge);
  if (!pairs) return null;
  const p: Record<string, string> = {};
  for (let k = 0; k < pairs.length; k += 2) p[pairs[k]] = pairs[k + 1];
  if (!p.realm || !p.nonce || (p.algorithm && p.algorithm.toUpperCase() !== 'MD5')) return null;
  const ha1 = md5(`${username}:${p.realm}:${password}`);
  const ha2 = md5(`${method}:${uri}`);
  const qop = p.qop?.split(',').map((q) => q.trim()).includes('auth') ? 'auth' : undefined;
  const cnonce = randomBytes(8).toString('hex');
  const response = qop ? md5(`${ha1}:${p.nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : md5(`${ha1}:${p.nonce}:${ha2}`);
  const parts = [`username="${username}"`, `realm="${p.realm}"`, `nonce="${p.nonce}"`, `uri="${uri}"`, `response="${response}"`, 'algorithm=MD5'];
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`);
  if (p.opaque !== undefined) parts.push(`opaque="${p.opaque}"`);
  return `Digest ${parts.join(', ')}`;
}
