/** Via header values (RFC 3261 §20.42). */
import { parseParams } from './headers';
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
  params: Map<string, string | null>;
}

const VIA = /^SIP\s*\/\s*([^\s/]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+([^\s;:]+|\[[^\]]+\])(?:\s*:\s*(\d{1,5}))?\s*(;.*)?$/i;

export function parseVia(value: string): Via | null {
  const m = VIA.exec(value.trim());
  if (!m) return null;
  const host = m[3].toLowerCase();
  if (!isValidHost(host)) return null;
  const port = m[4] === undefined ? null : Number(m[4]);
  if (port !== null && port > 65535) return null;
  const params = parseParams(m[5] ?? '');
  if (!params) return null;
  const branch = params.get('branch');
  return {
    raw: value.trim(), protocol: m[1], transport: m[2].toUpperCase(), host, port,
    branch: branch === undefined ? null : branch, params,
  };
}

/** sent-by as a comparable key: host[:port]. */
export function sentBy(via: Via): string {
  return via.port === null ? via.host : `${via.host}:${via.port}`;
}
