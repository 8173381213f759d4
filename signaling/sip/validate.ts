/** Request and response sanity checks (RFC 3261 §8.2, §16.3, RFC 4475) that precede any routing. */
import { isToken } from './headers';
import { Defect, MAX_UINT32, SipRequest, SipResponse } from './message';
import { parseNameAddr } from './name-addr';
import { parseSipUri, uriScheme } from './uri';

export const KNOWN_METHODS = new Set([
  'INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'REGISTER', 'MESSAGE', 'INFO', 'UPDATE', 'PRACK',
  'REFER', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH',
]);

/** Headers a request must have (RFC 3261 §8.1.1) and headers it may have only once. */
const REQUIRED = ['via', 'from', 'to', 'call-id', 'cseq'];
const SINGLE = ['from', 'to', 'call-id', 'cseq', 'max-forwards', 'content-length'];
// One bit per header named above, so one pass over the headers finds the missing and the repeated.
const BITS = new Map([...new Set([...REQUIRED, ...SINGLE])].map((key, i) => [key, 1 << i]));

/** Why this request must be refused before anything else looks at it, or null when it is sound. */
export function checkRequest(req: SipRequest): Defect | null {
  if (req.version !== 'SIP/2.0') {
    // Only a syntactically plausible version earns 505; anything else is a malformed line.
    return /^SIP\/\d+\.\d+$/.test(req.version)
      ? { status: 505, reason: 'Version Not Supported' }
      : { status: 400, reason: 'Malformed Request-Line' };
  }
  if (req.defect) return req.defect;
  if (!isToken(req.method)) return { status: 400, reason: 'Bad Method' };
  let seen = 0;
  let repeated = 0;
  for (const h of req.headers) {
    const bit = BITS.get(h.key);
    if (bit === undefined) continue;
    if (seen & bit) repeated |= bit;
    seen |= bit;
  }
  for (const key of REQUIRED) if (!(seen & BITS.get(key)!)) return { status: 400, reason: `Missing ${key} header` };
  for (const key of SINGLE) if (repeated & BITS.get(key)!) return { status: 400, reason: `Multiple ${key} headers` };
  const cseq = req.cseq;
  if (!cseq) return { status: 400, reason: 'Bad CSeq' };
  if (cseq.method !== req.method) {
    if (!KNOWN_METHODS.has(req.method)) return { status: 501, reason: 'Not Implemented' };
    return { status: 400, reason: 'CSeq method does not match' };
  }
  if (!req.vias || req.vias.length === 0) return { status: 400, reason: 'Bad Via' };
  const mf = req.get('max-forwards');
  if (mf !== undefined && !(/^\d{1,10}$/.test(mf) && Number(mf) <= 255)) return { status: 400, reason: 'Bad Max-Forwards' };
  const exp = req.get('expires');
  if (exp !== undefined && !(/^\d{1,10}$/.test(exp) && Number(exp) <= MAX_UINT32)) return { status: 400, reason: 'Bad Expires' };
  if (!req.from || !req.to) return { status: 400, reason: `Bad ${req.from ? 'To' : 'From'} header` };
  const scheme = uriScheme(req.uri);
  if (scheme === null || /[<>\s]/.test(req.uri)) return { status: 400, reason: 'Bad Request-URI' };
  if (scheme !== 'sip' && scheme !== 'sips') return { status: 416, reason: 'Unsupported URI Scheme' };
  const uri = parseSipUri(req.uri);
  // A Request-URI carrying ?headers would smuggle header fields (torture escruri).
  if (!uri || uri.headers !== null) return { status: 400, reason: 'Bad Request-URI' };
  for (const c of req.getAll('contact')) {
    if (c === '*' && req.method === 'REGISTER') continue;
    if (!parseNameAddr(c)) return { status: 400, reason: 'Bad Contact' };
  }
  return null;
}

/** Whether a received response is sound enough to be matched to a transaction (by its top Via); otherwise it is dropped. */
export function isSoundResponse(res: SipResponse): boolean {
  return res.version === 'SIP/2.0' && res.status >= 100 && res.status <= 699 && res.cseq !== null
    && res.topVia !== null && res.count('call-id') === 1 && !res.defect;
}
