/** Via header values (RFC 3261 §20.42). */
import { isToken, Params, parseParams } from './headers';
import { isValidHost } from './uri';

export const MAGIC_COOKIE = 'z9hG4bK';

export interface Via {
  raw: string;
  protocol: string;
  /** Upper-case transport token: UDP, TCP, TLS, WS, WSS, SCTP or any extension. */
  transport: string;
  host: string;
  port: number | null;
  branch: string | null;
  params: Params;
}

const VIA = /^SIP\s*\/\s*([^\s/]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+([^\s;:]+|\[[^\]]+\])(?:\s*:\s*(\d{1,5}))?\s*(;.*)?$/i;

export function parseVia(value: string): Via | null {
  const v = value.trim();
  const parts = splitPlain(v) ?? splitSpaced(v);
  if (!parts) return null;
  const [protocol, transport, rawHost, rawPort, rawParams] = parts;
  const host = rawHost.toLowerCase();
  if (!isValidHost(host)) return null;
  const port = rawPort === undefined ? null : Number(rawPort);
  if (port !== null && port > 65535) return null;
  const params = parseParams(rawParams);
  if (!params) return null;
  const branch = params.get('branch');
  return { raw: v, protocol, transport: transport.toUpperCase(), host, port, branch: branch === undefined ? null : branch, params };
}

type ViaParts = [protocol: string, transport: string, host: string, port: string | undefined, params: string];

function splitSpaced(v: string): ViaParts | null {
  const m = VIA.exec(v);
  return m ? [m[1], m[2], m[3], m[4], m[5] ?? ''] : null;
}

/**
 * The usual spelling, `SIP/2.0/UDP host:port;params`, cut by position; anything else (LWS around
 * the slashes or the colon, IPv6 references) is left to the full grammar.
 */
function splitPlain(v: string): ViaParts | null {
  if (!v.startsWith('SIP/2.0/')) return null;
  const sp = v.indexOf(' ', 8);
  if (sp < 0) return null;
  const transport = v.slice(8, sp);
  if (!isToken(transport)) return null;
  const hostStart = sp + 1;
  let i = hostStart;
  for (; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x3a || c === 0x3b) break;
    if (c <= 0x20 || c === 0x5b || c === 0x2f || c === 0xa0) return null;
  }
  if (i === hostStart) return null;
  const host = v.slice(hostStart, i);
  let port: string | undefined;
  if (v.charCodeAt(i) === 0x3a) {
    const ps = i + 1;
    for (i = ps; i < v.length && v.charCodeAt(i) >= 0x30 && v.charCodeAt(i) <= 0x39; i++);
    if (i === ps || i - ps > 5) return null;
    port = v.slice(ps, i);
  }
  if (i < v.length && v.charCodeAt(i) !== 0x3b) return null;
  return ['2.0', transport, host, port, v.slice(i)];
}

/** sent-by as a comparable key: host[:port]. */
export function sentBy(via: Via): string {
  return via.port === null ? via.host : `${via.host}:${via.port}`;
}
