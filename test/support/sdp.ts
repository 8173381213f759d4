/**
 * Canned SDP for signalling-only tests (no media is ever sent).
 *
 * The bodies are syntactically valid WebRTC-style SDP (one audio m-line, ICE credentials, a DTLS
 * fingerprint, one host candidate on 127.0.0.1, end-of-candidates) so that JsSIP (which runs
 * sdp-transform over them) and SIP.js are happy, and so that a proxy that inspects bodies sees
 * something realistic.
 */
import { randomBytes, randomInt } from 'node:crypto';

export type SdpType = 'offer' | 'answer';

export interface SdpOptions {
  /** o= session id; random if not given. */
  sessionId?: string;
  /** o= session version (bump it for re-offers). */
  version?: number;
  /** RTP port announced on the m-line and the candidate; random if not given. */
  port?: number;
  /** 'actpass' for offers, 'active' for answers (RFC 8842) unless given. */
  setup?: 'actpass' | 'active' | 'passive';
  /** a=sendrecv (default), a=sendonly, ... */
  direction?: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  /** ICE ufrag/pwd; random if not given. */
  iceUfrag?: string;
  icePwd?: string;
}

const CRLF = '\r\n';

function randomToken(len: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const bytes = randomBytes(len);
  let out = '';
  for (let i = 0; i < len; i++) out += alphabet[bytes[i]! % alphabet.length];
  return out;
}

function fingerprint(): string {
  return Array.from(randomBytes(32), (b) => b.toString(16).toUpperCase().padStart(2, '0')).join(':');
}

/** Build one SDP body (CRLF line endings, trailing CRLF). */
export function makeSdp(type: SdpType, opts: SdpOptions = {}): string {
  const sessionId = opts.sessionId ?? String(randomInt(1, 2 ** 47));
  const version = opts.version ?? 2;
  const port = opts.port ?? randomInt(20000, 60000);
  const setup = opts.setup ?? (type === 'offer' ? 'actpass' : 'active');
  const direction = opts.direction ?? 'sendrecv';
  const ufrag = opts.iceUfrag ?? randomToken(4);
  const pwd = opts.icePwd ?? randomToken(24);
  const lines = [
    'v=0',
    `o=- ${sessionId} ${version} IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=msid-semantic: WMS *',
    `m=audio ${port} UDP/TLS/RTP/SAVPF 111 0 8`,
    'c=IN IP4 127.0.0.1',
    `a=rtcp:${port} IN IP4 127.0.0.1`,
    `a=candidate:1 1 udp 2122260223 127.0.0.1 ${port} typ host generation 0`,
    'a=end-of-candidates',
    `a=ice-ufrag:${ufrag}`,
    `a=ice-pwd:${pwd}`,
    'a=ice-options:trickle',
    `a=fingerprint:sha-256 ${fingerprint()}`,
    `a=setup:${setup}`,
    'a=mid:0',
    `a=${direction}`,
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
  ];
  return lines.join(CRLF) + CRLF;
}

export const makeOffer = (opts?: SdpOptions): string => makeSdp('offer', opts);
export const makeAnswer = (opts?: SdpOptions): string => makeSdp('answer', opts);

/** Very small sanity check used by the fakes: does this look like an SDP body at all? */
export function looksLikeSdp(body: string | undefined | null): boolean {
  return typeof body === 'string' && /^v=0\r?\n/.test(body) && /\r?\nm=/.test(body);
}

/** The o= line's session id (handy to check that the far end got *our* SDP). */
export function sdpSessionId(body: string): string | undefined {
  const m = /^o=\S+ (\S+) /m.exec(body);
  return m?.[1];
}
