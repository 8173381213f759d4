/** name-addr / addr-spec with header parameters: From, To, Contact, Route, Record-Route (RFC 3261 §20.10). */
import { isQuotedString, isToken, Params, parseParams, unquote } from './headers';

export interface NameAddr {
  display: string | null;
  /** URI text as written, without the angle brackets. */
  uri: string;
  /** Whether the URI was enclosed in <> (needed to re-serialise an addr-spec form safely). */
  angle: boolean;
  params: Params;
  /** The `;params` suffix as written, for byte-exact echo (e.g. +sip.instance in a 200 to REGISTER). */
  rawParams: string;
}

export function parseNameAddr(value: string): NameAddr | null {
  const v = value.trim();
  let display: string | null = null;
  let uri: string;
  let rest: string;
  let angle = false;
  const lt = v.indexOf('<');
  if (v.startsWith('"')) {
    let end = 1;
    for (; end < v.length; end++) {
      if (v[end] === '\\') end++;
      else if (v[end] === '"') break;
    }
    if (end >= v.length) return null;
    const quoted = v.slice(0, end + 1);
    if (!isQuotedString(quoted)) return null;
    display = unquote(quoted);
    const after = v.slice(end + 1).trimStart();
    if (!after.startsWith('<')) return null;
    return parseAngle(display, after);
  }
  if (lt >= 0) {
    const name = v.slice(0, lt).trim();
    // An unquoted display name is a sequence of tokens separated by LWS (torture baddn).
    if (name !== '' && !name.split(/\s+/).every(isToken)) return null;
    display = name === '' ? null : name;
    return parseAngle(display, v.slice(lt));
  }
  // addr-spec form: everything after the first ';' is a header param, never a URI param (torture cparam01).
  const semi = v.indexOf(';');
  uri = (semi >= 0 ? v.slice(0, semi) : v).trim();
  rest = semi >= 0 ? v.slice(semi) : '';
  // In addr-spec form the URI may not contain ',', '?' or ';' (RFC 3261 §20; torture regbadct).
  if (uri === '' || /[\s,?<>"]/.test(uri)) return null;
  const params = parseParams(rest);
  if (!params) return null;
  return { display, uri, angle, params, rawParams: rest };

  function parseAngle(disp: string | null, s: string): NameAddr | null {
    const gt = s.indexOf('>');
    if (gt < 0) return null;
    const inner = s.slice(1, gt);
    // No LWS is allowed inside <> (torture badaspec).
    if (inner === '' || /[\s<>"]/.test(inner)) return null;
    const tail = s.slice(gt + 1).trim();
    if (tail !== '' && !tail.startsWith(';')) return null;
    const p = parseParams(tail);
    if (!p) return null;
    return { display: disp, uri: inner, angle: true, params: p, rawParams: tail };
  }
}
