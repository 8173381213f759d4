/** SIP/SIPS URI (RFC 3261 §19.1). Parsed once, kept with its original text for byte-exact output. */
import { Params, parseParams } from './headers';

export interface SipUri {
  raw: string;
  scheme: 'sip' | 'sips';
  /** User part exactly as written (escapes kept; user parts compare case-sensitively). */
  user: string | null;
  /** Host lower-cased (hosts compare case-insensitively); IPv6 keeps its brackets. */
  host: string;
  port: number | null;
  params: Params;
  /** The `?headers` part without the '?', or null. */
  headers: string | null;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?$/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;
// RFC 3261 user = 1*( unreserved / escaped / user-unreserved ); ';' is allowed (torture semiuri).
const USER = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
const PASSWORD = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*$/;

/** The scheme of any absolute URI, lower-cased, or null when the text is not a URI at all. */
export function uriScheme(s: string): string | null {
  const m = SCHEME.exec(s);
  return m ? m[1].toLowerCase() : null;
}

// Hosts that passed: the same few recur in every message. Bounded, so made-up hosts cannot grow it.
const GOOD_HOSTS = new Set<string>();
const GOOD_HOSTS_MAX = 1024;

export function isValidHost(host: string): boolean {
  if (GOOD_HOSTS.has(host)) return true;
  const ok = IPV6.test(host) || (IPV4.test(host) ? host.split('.').every((o) => Number(o) <= 255) : HOSTNAME.test(host));
  if (ok && GOOD_HOSTS.size < GOOD_HOSTS_MAX) GOOD_HOSTS.add(host);
  return ok;
}

const NO_PARAMS = new Params('');

export function parseSipUri(raw: string): SipUri | null {
  const scheme = uriScheme(raw);
  if (scheme !== 'sip' && scheme !== 'sips') return null;
  let rest = raw.slice(scheme.length + 1);
  let user: string | null = null;
  // The user part may itself contain '?' and ';' (RFC 3261 user-unreserved), so cut at the last '@' first.
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    let userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    if (colon >= 0) {
      if (!PASSWORD.test(userinfo.slice(colon + 1))) return null;
      userinfo = userinfo.slice(0, colon);
    }
    if (!USER.test(userinfo)) return null;
    user = userinfo;
  }
  let headers: string | null = null;
  const q = rest.indexOf('?');
  if (q >= 0) {
    headers = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  const semi = rest.indexOf(';');
  const hostport = semi >= 0 ? rest.slice(0, semi) : rest;
  const params = semi >= 0 ? parseParams(rest.slice(semi)) : NO_PARAMS;
  if (!params) return null;
  let host = hostport;
  let port: number | null = null;
  const portMatch = /^(.*):(\d{1,5})$/.exec(hostport);
  if (portMatch && !(hostport.startsWith('[') && !hostport.includes(']:'))) {
    host = portMatch[1];
    port = Number(portMatch[2]);
    if (port > 65535) return null;
  }
  if (!isValidHost(host)) return null;
  return { raw, scheme, user, host: host.toLowerCase(), port, params, headers };
}
