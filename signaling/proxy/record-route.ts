/**
 * Our Record-Route URIs and the flow token they carry. The token names the flows of both dialog ends
 * and the caller's From tag, signed so that a forged Route cannot steer requests through us. With it,
 * in-dialog requests reach a browser over its own WebSocket without resolving its `.invalid` Contact.
 */
import { randomBytes } from 'node:crypto';
import { mac, safeEqual } from '../auth/mac';
import { parseNameAddr } from '../sip/name-addr';
import { parseSipUri } from '../sip/uri';
import { TransportName } from '../transport/flow';

export interface LocalAddress {
  host: string;
  wsPort: number;
  wsSecure: boolean;
  sipPort: number;
}

export interface FlowToken {
  /** Flow towards the dialog's caller. */
  caller: string;
  /** Flow towards the dialog's callee. */
  callee: string;
  /** The caller's From tag: a request carrying it as From tag travels caller → callee. */
  callerTag: string;
}

export class RecordRoute {
  private readonly secret: string;

  constructor(readonly local: LocalAddress, secret?: string) {
    this.secret = secret ?? randomBytes(32).toString('base64');
  }

  /** The Record-Route value to show peers reached over `transport`, carrying a token from `encode`. */
  value(transport: TransportName, encoded: string): string {
    return `<sip:${encoded}@${this.hostPort(transport)};lr>`;
  }

  private hostPort(transport: TransportName): string {
    const l = this.local;
    if (transport === 'WS' || transport === 'WSS') return `${l.host}:${l.wsPort};transport=${l.wsSecure ? 'wss' : 'ws'}`;
    if (transport === 'TCP') return `${l.host}:${l.sipPort};transport=tcp`;
    return `${l.host}:${l.sipPort}`;
  }

  /** The Via sent-by to put on requests we send over `transport`. */
  via(transport: TransportName, branch: string): string {
    const l = this.local;
    const port = transport === 'WS' || transport === 'WSS' ? l.wsPort : l.sipPort;
    return `SIP/2.0/${transport} ${l.host}:${port};branch=${branch};rport`;
  }

  /**
   * Whether a Route value names this server (its host and one of its ports), and if so the flow token
   * it carries (null when absent or not signed by us).
   */
  ours(route: string): { token: FlowToken | null } | null {
    const na = parseNameAddr(route);
    const uri = na ? parseSipUri(na.uri) : null;
    if (!uri) return null;
    const l = this.local;
    const port = uri.port ?? (uri.scheme === 'sips' ? 5061 : 5060);
    if (uri.host !== l.host.toLowerCase() || (port !== l.sipPort && port !== l.wsPort)) return null;
    return { token: uri.user ? this.verify(uri.user) : null };
  }

  private verify(user: string): FlowToken | null {
    const dot = user.lastIndexOf('.');
    if (dot < 0) return null;
    const payload = user.slice(0, dot);
    if (!safeEqual(user.slice(dot + 1), this.sign(payload))) return null;
    const parts = Buffer.from(payload, 'base64url').toString('utf8').split('\n');
    if (parts.length !== 3) return null;
    return { caller: parts[0], callee: parts[1], callerTag: parts[2] };
  }

  /** The token signed, as the user part of our Record-Route URIs. */
  encode(t: FlowToken): string {
    const payload = Buffer.from(`${t.caller}\n${t.callee}\n${t.callerTag}`).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  private sign(payload: string): string {
    return mac(this.secret, payload, 16);
  }
}
