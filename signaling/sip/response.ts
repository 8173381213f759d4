/** Building responses to requests (RFC 3261 §8.2.6). */
import { randomBytes } from 'node:crypto';
import { Header, NO_BODY, SipRequest, SipResponse } from './message';
import { reasonPhrase } from './status';

const COPIED = new Set(['via', 'from', 'to', 'call-id', 'cseq']);

// Tags must be unique, not secret (RFC 3261 §19.3): a random per-process prefix and a counter.
const TAG_PREFIX = randomBytes(4).toString('hex');
let tagSeq = 0;

export function newTag(): string {
  return `${TAG_PREFIX}${(tagSeq++).toString(36)}`;
}

/**
 * A response to `req`: Via, From, To, Call-ID and CSeq copied as received; a To tag added to non-100
 * responses that lack one (`toTag` lets a UAS keep the same tag across its responses).
 */
export function createResponse(req: SipRequest, status: number, reason?: string, toTag?: string): SipResponse {
  const headers: Header[] = [];
  for (const h of req.headers) if (COPIED.has(h.key)) headers.push(h);
  const res = new SipResponse(status, reason ?? reasonPhrase(status), headers, NO_BODY);
  if (status > 100 && req.to && !req.toTag) {
    const i = headers.findIndex((h) => h.key === 'to');
    if (i >= 0) headers[i] = { ...headers[i], value: `${headers[i].value};tag=${toTag ?? newTag()}` };
  }
  return res;
}
