/** Header-name canonicalisation and list splitting (RFC 3261 §7.3). */

const COMPACT: Record<string, string> = {
  i: 'call-id', m: 'contact', e: 'content-encoding', l: 'content-length', c: 'content-type',
  f: 'from', s: 'subject', k: 'supported', t: 'to', v: 'via', o: 'event', r: 'refer-to',
  b: 'referred-by', u: 'allow-events', x: 'session-expires', y: 'identity', a: 'accept-contact',
  j: 'reject-contact', d: 'request-disposition',
};

// Headers whose grammar is a comma-separated list; any other header (Date, WWW-Authenticate, ...)
// may legitimately contain commas and must never be split.
const LIST_HEADERS = new Set([
  'via', 'contact', 'route', 'record-route', 'path', 'allow', 'supported', 'require', 'proxy-require',
  'unsupported', 'accept', 'accept-encoding', 'accept-language', 'allow-events', 'content-encoding',
  'in-reply-to', 'service-route', 'reason', 'warning', 'p-asserted-identity',
]);

/** Lower-case long form of a header name; compact forms expanded. */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.length === 1 ? COMPACT[lower] ?? lower : lower;
}

export function isListHeader(canonical: string): boolean {
  return LIST_HEADERS.has(canonical);
}

/** Index of the first comma outside quoted strings and <...> in a list header value, or -1. */
export function listSeparator(value: string, from = 0): number {
  if (value.indexOf(',', from) < 0) return -1;
  let quoted = false;
  let angle = false;
  for (let i = from; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c) i++; // backslash escapes the next char inside a quoted string
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x3c) angle = true;
    else if (c === 0x3e) angle = false;
    else if (c === 0x2c && !angle) return i;
  }
  return -1;
}

/** Splits a list header value on commas outside quoted strings and <...>. */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let sep = listSeparator(value); sep >= 0; sep = listSeparator(value, start)) {
    out.push(value.slice(start, sep).trim());
    start = sep + 1;
  }
  out.push(value.slice(start).trim());
  return out;
}

const TOKEN_CODES = charSet("A-Za-z0-9-.!%*_+`'~");
// A parameter value outside quotes: token characters plus those host, IPv6 and URI values use.
const VALUE_CODES = charSet("A-Za-z0-9-.!%*_+`'~:[]/&$@?");

function charSet(spec: string): Uint8Array {
  const set = new Uint8Array(128);
  for (let i = 0; i < spec.length; i++) {
    if (spec[i + 1] === '-' && i + 2 < spec.length) {
      for (let c = spec.charCodeAt(i); c <= spec.charCodeAt(i + 2); c++) set[c] = 1;
      i += 2;
    } else set[spec.charCodeAt(i)] = 1;
  }
  return set;
}

function allIn(set: Uint8Array, s: string, start: number, end: number): boolean {
  if (start >= end) return false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || set[c] === 0) return false;
  }
  return true;
}

export function isToken(s: string): boolean {
  return allIn(TOKEN_CODES, s, 0, s.length);
}

/** What String.prototype.trim() removes, within latin1. */
export function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
}

/** The first index in [from, end) that is not white space (end when none): trim() by position. */
export function skipSpace(s: string, from: number, end: number): number {
  while (from < end && isSpace(s.charCodeAt(from))) from++;
  return from;
}

/** The end of [start, end) once trailing white space is dropped. */
export function dropSpace(s: string, start: number, end: number): number {
  while (end > start && isSpace(s.charCodeAt(end - 1))) end--;
  return end;
}

/** The index of the '"' that closes the quoted string opened at `open` (backslash escapes skipped), or the length. */
export function closingQuote(s: string, open: number): number {
  for (let i = open + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i;
  }
  return s.length;
}

/** End of the parameter starting at `start`: the next ';' outside a quoted string, or the length. */
function paramEnd(s: string, start: number): number {
  for (let i = start; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x3b) return i;
    if (c === 0x22) i = closingQuote(s, i);
  }
  return s.length;
}

/**
 * A `;name=value;flag` parameter list, kept as its text: most messages are relayed without anyone
 * asking for a parameter, and a lookup scans a few dozen characters. Names compare case-insensitively,
 * values come back as written; a name given twice answers with its last value.
 */
export class Params {
  constructor(readonly raw: string) {}

  /** The value, null for a flag without one, undefined when absent. `name` must be lower case. */
  get(name: string): string | null | undefined {
    const s = this.raw;
    let found: string | null | undefined;
    for (let start = 0; start <= s.length; ) {
      const end = paramEnd(s, start);
      const a = skipSpace(s, start, end);
      const eq = s.indexOf('=', a);
      const keyEnd = eq >= 0 && eq < end ? eq : end;
      const b = dropSpace(s, a, keyEnd);
      if (b - a === name.length && s.slice(a, b).toLowerCase() === name) {
        found = keyEnd === end ? null : s.slice(keyEnd + 1, end).trim();
      }
      start = end + 1;
    }
    return found;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}

/** Checks a `;name=value;flag` parameter list (RFC 3261 §25.1 generic-param); null when malformed. */
export function parseParams(s: string): Params | null {
  let first = true;
  for (let start = 0; start <= s.length; first = false) {
    const end = paramEnd(s, start);
    const a = skipSpace(s, start, end);
    const z = dropSpace(s, a, end);
    start = end + 1;
    if (a === z) {
      // Only the text before a leading ';' may be empty, or the whole list.
      if (first) continue;
      return null;
    }
    const eq = s.indexOf('=', a);
    if (eq < 0 || eq >= z) {
      if (!allIn(TOKEN_CODES, s, a, z)) return null;
      continue;
    }
    const ke = dropSpace(s, a, eq);
    const vs = skipSpace(s, eq + 1, z);
    if (!allIn(TOKEN_CODES, s, a, ke) || vs >= z) return null;
    if (s.charCodeAt(vs) === 0x22 ? !isQuotedString(s.slice(vs, z)) : !allIn(VALUE_CODES, s, vs, z)) return null;
  }
  return new Params(s);
}

export function isQuotedString(v: string): boolean {
  if (v.length < 2 || v.charCodeAt(0) !== 0x22 || v.charCodeAt(v.length - 1) !== 0x22) return false;
  for (let i = 1; i < v.length - 1; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return false;
  }
  return true;
}

export function unquote(v: string): string {
  return isQuotedString(v) ? unescapeQuoted(v.slice(1, -1)) : v;
}

/** The text inside a quoted string's quotes with its backslash escapes undone. */
export function unescapeQuoted(inner: string): string {
  return inner.indexOf('\\') < 0 ? inner : inner.replace(/\\(.)/g, '$1');
}
