/**
 * What the server (registrar + stateful proxy for its own domain `wac.local` only) must do with each
 * RFC 4475 torture message. The source of every row is ../shared/torture/README.md (paraphrasing
 * RFC 4475); where the README allows more than one outcome, the row lists a small explicit set.
 *
 * Every request in the files targets a domain that is not ours (example.com, example.net, ...), so a
 * valid request is never forwarded: the server may refuse to relay it (403), say the target is
 * unknown (404), or ask for proxy credentials first (407, since relaying needs an authenticated
 * caller). A valid REGISTER for a foreign domain gets 403 or 404. What must NOT happen to a valid
 * message is a 400: "valid, must be accepted" means it parses and reaches routing.
 */
import type { LiteMessage } from './sip-lite';

export type Expectation =
  | {
    kind: 'reply'; codes: number[]; why: string; check?: (res: LiteMessage) => void;
    /**
     * Set when the message has no parsable Via: over UDP there is then no RFC 3261 §18.2.2 address
     * to answer to, so silence is accepted there (over WebSocket the connection is the way back).
     */
    udpMayDrop?: boolean;
  }
  | { kind: 'drop'; why: string };

/** A valid request (non-REGISTER) for a foreign domain: relaying denied, unknown target, or auth first. */
const FOREIGN = [403, 404, 407];
/** A valid REGISTER for a domain we do not serve. */
const FOREIGN_REG = [403, 404];

const reply = (codes: number[], why: string, check?: (res: LiteMessage) => void, udpMayDrop = false): Expectation => (
  { kind: 'reply', codes, why, check, udpMayDrop });
const drop = (why: string): Expectation => ({ kind: 'drop', why });

function listsAll(value: string, tags: string[]): boolean {
  const got = value.split(',').map((t) => t.trim().toLowerCase());
  return tags.every((t) => got.includes(t.toLowerCase()));
}

/** 420 must list the unsupported option tags: Proxy-Require ones (proxy role) or Require ones (UAS role). */
export function checkUnsupported(proxyTags: string[], uasTags: string[]) {
  return (res: LiteMessage): void => {
    const u = res.getAll('unsupported').join(',');
    if (!(listsAll(u, proxyTags) || listsAll(u, uasTags))) {
      throw new Error(`420 must list the unsupported tags (${proxyTags.join(', ')} or ${uasTags.join(', ')}); Unsupported: ${JSON.stringify(u)}`);
    }
  };
}

/** 401/407 must carry a Digest challenge (WWW-Authenticate / Proxy-Authenticate). */
export function checkDigestChallenge(res: LiteMessage): void {
  const name = res.status === 401 ? 'www-authenticate' : res.status === 407 ? 'proxy-authenticate' : null;
  if (!name) return;
  const values = res.getAll(name);
  if (!values.some((v) => /^\s*Digest\s/i.test(v))) {
    throw new Error(`${res.status} without a Digest ${name}: ${JSON.stringify(values)}`);
  }
}

/** 501 should say what is allowed (RFC 3261 §21.5.2, README intmeth). */
function checkAllowOn501(res: LiteMessage): void {
  if (res.status === 501 && res.getAll('allow').length === 0) throw new Error('501 without an Allow header');
}

function all(...checks: Array<(res: LiteMessage) => void>) {
  return (res: LiteMessage): void => checks.forEach((c) => c(res));
}

export const EXPECTATIONS: Record<string, Expectation> = {
  // 3.1.1 Valid messages: must parse; never 400.
  wsinv: reply(FOREIGN, 'V: tortuous but valid INVITE; proxy forwards unknown headers (foreign R-URI: not relayed)', checkDigestChallenge),
  intmeth: reply([...FOREIGN, 501], 'V: unknown method; proxy: forward if URI known else 404; endpoint 501 with Allow', all(checkDigestChallenge, checkAllowOn501)),
  esc01: reply(FOREIGN, 'V: valid % escaping', checkDigestChallenge),
  escnull: reply(FOREIGN_REG, 'V: REGISTER with %00 in user parts (for example.com, not our domain)'),
  esc02: reply([...FOREIGN, 501], 'V: method RE%47IST%45R is unknown (not REGISTER); proxy by R-URI, endpoint 501', all(checkDigestChallenge, checkAllowOn501)),
  lwsdisp: reply(FOREIGN, 'V: no LWS between display name and <', checkDigestChallenge),
  longreq: reply(FOREIGN, 'V: long header values, many Vias', checkDigestChallenge),
  dblreq: reply(FOREIGN_REG, 'V: process the REGISTER, ignore the trailing INVITE octets (checked separately)'),
  semiuri: reply(FOREIGN, 'V: ; in the R-URI user part', checkDigestChallenge),
  transports: reply(FOREIGN, 'V: unknown transports in Via', checkDigestChallenge),
  mpart01: reply(FOREIGN, 'V: multipart body with NULs, framed by Content-Length', checkDigestChallenge),
  unreason: drop('V response: odd reason phrase; no matching client transaction -> drop'),
  noreason: drop('V response: empty reason phrase; no matching client transaction -> drop'),
  // 3.1.2 Invalid messages.
  badinv01: reply([400], 'I: extraneous ;;,;,, in Via and ;;;; in Contact -> 400 (no parsable Via: UDP may stay silent)', undefined, true),
  clerr: reply([400], 'I: Content-Length larger than the message (datagram / WS message) -> 400'),
  ncl: reply([400], 'I: negative Content-Length -> 400'),
  scalar02: reply([400], 'I: CSeq > 2^32-1 (and Max-Forwards > 255, huge Expires) -> 400'),
  scalarlg: drop('I response: overlarge scalar fields -> discard'),
  quotbal: reply([400], 'I: unterminated quoted string in To display name -> 400'),
  ltgtruri: reply([400], 'I: <> around the Request-URI -> 400'),
  lwsruri: reply([400], 'I: LWS inside the Request-URI -> 400'),
  lwsstart: reply([400, ...FOREIGN], 'I: several SP in the request line: may reject (400) or accept'),
  trws: reply([400, ...FOREIGN], 'I: trailing SP on the request line: may reject (400) or accept'),
  escruri: reply([400, ...FOREIGN], 'I: escaped headers in the R-URI: may 400, or strip and route'),
  baddate: reply(FOREIGN, 'I: bad Date time zone: reject only if Date matters (it does not here) -> ignore'),
  regbadct: reply([400], 'I: REGISTER Contact with URI headers not in <> -> 400'),
  badaspec: reply([400], 'I: spaces inside an addr-spec -> 400'),
  baddn: reply([400], 'I: non-token characters in an unquoted display name -> 400'),
  badvers: reply([505], 'I: SIP/7.0 -> 505 Version Not Supported'),
  mismatch01: reply([400], 'I: request line OPTIONS vs CSeq INVITE -> 400'),
  mismatch02: reply([501, 400], 'I: unknown method with CSeq mismatch -> 501 preferred, 400 acceptable', checkAllowOn501),
  bigcode: drop('I response: status code 4294967301 -> drop'),
  // 3.2 / 3.3 Transaction and application semantics.
  badbranch: reply([400, ...FOREIGN], 'S: branch exactly z9hG4bK: may 400 or fall back to RFC 2543 matching'),
  insuf: reply([400], 'S: no Call-ID / From / To -> 400'),
  unkscm: reply([416], 'S: unknown R-URI scheme -> 416'),
  novelsc: reply([416], 'S: soap.beep: R-URI, no URIs of that scheme served -> 416'),
  unksm2: reply([400], 'S: REGISTER with non-SIP To/From/Contact URIs: the AOR must be SIP/SIPS -> 400'),
  bext01: reply([420], 'S: Proxy-Require / Require unknown -> 420 with Unsupported',
    checkUnsupported(['noProxiesSupportThis', 'norDoAnyProxiesSupportThis'], ['nothingSupportsThis', 'nothingSupportsThisEither'])),
  invut: reply(FOREIGN, 'S: unknown Content-Type: a proxy routes as usual (415 is for endpoints)', checkDigestChallenge),
  regaut01: reply([401, 403, 404], 'S: unknown Authorization scheme: 401 with Digest (or 403/404: example.com is not our domain)', checkDigestChallenge),
  multi01: reply([400], 'S: several To/From/Call-ID/CSeq/Max-Forwards values -> 400'),
  mcl01: reply([400], 'S: two Content-Length values -> 400'),
  bcast: drop('S response: 2nd Via is 255.255.255.255; never forward, no transaction -> drop'),
  zeromf: reply([483], 'S: Max-Forwards 0 at a proxy -> 483 Too Many Hops'),
  cparam01: reply(FOREIGN_REG, 'S: valid REGISTER (contact param), example.com is not our domain'),
  cparam02: reply(FOREIGN_REG, 'S: valid REGISTER (URI param), example.com is not our domain'),
  regescrt: reply(FOREIGN_REG, 'S: valid REGISTER (escaped ?Route in <>), example.com is not our domain'),
  sdp01: reply(FOREIGN, 'S: Accept nobody knows: a proxy routes as usual (406 is for endpoints)', checkDigestChallenge),
  inv2543: reply([400, ...FOREIGN], 'S: RFC 2543 INVITE: accept (backward compatible) or reject, never break', checkDigestChallenge),
};

/**
 * Files re-addressed to our own domain (only `example.com` -> `wac.local` in the header section; the
 * body is untouched) so that the server acts as registrar / UAS and the RFC's own expectation applies.
 */
export interface Variant {
  name: string;
  file: string;
  rewrite: (head: string) => string;
  expect: Expectation;
}

export const VARIANTS: Variant[] = [
  {
    name: 'regaut01 for wac.local',
    file: 'regaut01',
    rewrite: (h) => h.replace(/example\.com/g, 'wac.local'),
    expect: reply([401], 'S: registrar that authenticates: unknown scheme -> 401 with a Digest challenge', checkDigestChallenge),
  },
  {
    name: 'bext01 addressed to the server itself (UAS role)',
    file: 'bext01',
    rewrite: (h) => h.replace('OPTIONS sip:user@example.com SIP/2.0', 'OPTIONS sip:wac.local SIP/2.0'),
    expect: reply([420], 'S: UAS role: 420 with Unsupported listing the Require tags',
      checkUnsupported(['nothingSupportsThis', 'nothingSupportsThisEither'], ['nothingSupportsThis', 'nothingSupportsThisEither'])),
  },
];
