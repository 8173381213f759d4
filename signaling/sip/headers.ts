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

const TOKEN_CHARS = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
export function isToken(s: string): boolean {
  return TOKEN_CHARS.test(s);
}

/** Parses `;name=value;flag` parameter lists; keys lower-cased, values kept as written. */
export function parseParams(s: string): Map<string, string | null> | null {
  const params = new Map<string, string | null>();
  if (s.trim() === '') return params;
  const parts = splitOutsideQuotes(s, ';');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i].trim();
    if (i === 0 && part === '') continue;
    if (part === '') return null;
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (!isToken(part)) return null;
      params.set(part.toLowerCase(), null);
    } else {
      const k = part.slice(0, eq).trim();
      const v = part.slice(eq + 1).trim();
      if (!isToken(k) || v === '') return null;
      if (v.charCodeAt(0) === 0x22 ? !isQuotedString(v) : !/^[A-Za-z0-9\-.!%*_+`'~:[\]/&$@?]+$/.test(v)) return null;
      params.set(k.toLowerCase(), v);
    }
  }
  return params;
}

export function splitOutsideQuotes(s: string, sep: string): string[] {
  if (s.indexOf('"') < 0) return s.split(sep);
  const out: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === sep) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

export function isQuotedString(v: string): boolean {
  if (v.length < 2 || v[0] !== '"' || v[v.length - 1] !== '"') return false;
  for (let i = 1; i < v.length - 1; i++) {
    if (v[i] === '\\') i++;
    else if (v[i] === '"') return false;
  }
  return true;
}

export function unquote(v: string): string {
  return isQuotedString(v) ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
}
