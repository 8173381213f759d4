/** Bytes → SipMessage. Datagram framing (UDP, one WebSocket message) and stream framing (TCP). */
import { canonicalName, dropSpace, isToken, skipSpace } from './headers';
import { Header, NO_BODY, SipMessage, SipRequest, SipResponse } from './message';

const CRLFCRLF = Buffer.from('\r\n\r\n');

// Header names as written → canonical key. The same few dozen spellings arrive in every message, so
// a hit skips the grammar check and the lower-casing; the cap keeps arbitrary names from growing it.
const NAME_KEYS = new Map<string, string>();
const NAME_KEYS_MAX = 512;

function headerKey(name: string): string | null {
  const known = NAME_KEYS.get(name);
  if (known !== undefined) return known;
  if (!isToken(name)) return null;
  const key = canonicalName(name);
  if (NAME_KEYS.size < NAME_KEYS_MAX) NAME_KEYS.set(name, key);
  return key;
}

function isLws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * Parses one message from a datagram or WebSocket message. Returns null when not even a start line
 * and header block can be read (the message is dropped). Framing problems a request can be answered
 * for (Content-Length larger than the body, negative, repeated) are set on `msg.defect`.
 */
export function parseMessage(buf: Buffer): SipMessage | null {
  let headEnd = buf.indexOf(CRLFCRLF);
  let bodyStart: number;
  if (headEnd < 0) {
    headEnd = buf.length;
    bodyStart = buf.length;
  } else bodyStart = headEnd + 4;
  const head = buf.toString('latin1', 0, headEnd);
  // Leading CRLFs before the start line are allowed (RFC 3261 §7.5).
  let pos = 0;
  while (head.startsWith('\r\n', pos)) pos += 2;
  if (pos >= head.length) return null;
  let eol = head.indexOf('\r\n', pos);
  if (eol < 0) eol = head.length;
  const startLine = head.slice(pos, eol);
  const headers: Header[] = [];
  while (eol < head.length) {
    const start = eol + 2;
    eol = head.indexOf('\r\n', start);
    if (eol < 0) eol = head.length;
    // A datagram missing its blank line ends in a bare CRLF (torture baddn): nothing more to read.
    if (start === eol && eol === head.length) break;
    const first = head.charCodeAt(start);
    if (isLws(first) && headers.length > 0) {
      const last = headers[headers.length - 1];
      headers[headers.length - 1] = { name: last.name, key: last.key, value: `${last.value} ${head.slice(start, eol).trim()}`.trim() };
      continue;
    }
    const colon = head.indexOf(':', start);
    if (colon < 0 || colon >= eol || colon === start) return null;
    const nameStart = skipSpace(head, start, colon);
    const name = head.slice(nameStart, dropSpace(head, nameStart, colon));
    const key = headerKey(name);
    if (key === null) return null;
    const vs = skipSpace(head, colon + 1, eol);
    headers.push({ name, key, value: head.slice(vs, dropSpace(head, vs, eol)) });
  }
  const msg = startLine.startsWith('SIP/') ? parseStatusLine(startLine, headers) : parseRequestLine(startLine, headers);
  if (!msg) return null;
  frameBody(msg, buf, bodyStart);
  return msg;
}

function parseRequestLine(line: string, headers: Header[]): SipMessage | null {
  const parts = line.split(' ');
  const req = new SipRequest(parts[0], parts[1] ?? '', headers, NO_BODY);
  if (parts.length === 3 && parts[0] !== '' && parts[1] !== '') {
    req.version = parts[2];
    return req;
  }
  // Extra SP or LWS inside the request line: keep what is needed to answer 400 (torture lwsruri, trws).
  const m = /^(\S+)\s+(.*?)\s+(SIP\/\S+)\s*$/.exec(line);
  if (!m) return null;
  req.method = m[1];
  req.uri = m[2];
  req.version = m[3];
  req.defect = { status: 400, reason: 'Malformed Request-Line' };
  return req;
}

function parseStatusLine(line: string, headers: Header[]): SipMessage | null {
  // SIP-Version SP 3DIGIT SP Reason-Phrase
  const sp = line.indexOf(' ');
  if (sp < 5 || line.length < sp + 5 || line.charCodeAt(sp + 4) !== 0x20) return null;
  const code = line.slice(sp + 1, sp + 4);
  if (!/^\d{3}$/.test(code) || /\s/.test(line.slice(0, sp))) return null;
  const res = new SipResponse(Number(code), line.slice(sp + 5), headers, NO_BODY);
  res.version = line.slice(0, sp);
  return res;
}

/**
 * The body in memory of its own: a view would keep the whole received buffer alive as long as the
 * message (with the native UDP socket that buffer holds a batch of datagrams).
 */
function bodyOf(buf: Buffer, start: number, end = buf.length): Buffer {
  if (start >= end) return NO_BODY;
  const out = Buffer.allocUnsafeSlow(end - start);
  buf.copy(out, 0, start, end);
  return out;
}

function frameBody(msg: SipMessage, buf: Buffer, bodyStart: number): void {
  const available = buf.length - bodyStart;
  let count = 0;
  let value = '';
  for (const h of msg.headers) {
    if (h.key !== 'content-length') continue;
    if (count++ === 0) value = h.value;
  }
  if (count === 0) {
    msg.body = bodyOf(buf, bodyStart);
    return;
  }
  const len = /^\d{1,10}$/.test(value) ? Number(value) : -1;
  if (count > 1 || len < 0) {
    msg.body = buf.subarray(bodyStart);
    msg.defect ??= { status: 400, reason: count > 1 ? 'Multiple Content-Length values' : 'Bad Content-Length' };
    return;
  }
  if (len > available) {
    msg.body = buf.subarray(bodyStart);
    msg.defect ??= { status: 400, reason: 'Content-Length larger than message' };
    return;
  }
  // Octets past Content-Length in a datagram are not part of the message (torture dblreq).
  msg.body = bodyOf(buf, bodyStart, bodyStart + len);
}

/** Splits a TCP byte stream into messages by Content-Length (RFC 3261 §18.3). */
export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly maxMessage: number) {}

  /**
   * Feeds bytes; returns complete message buffers, or 'error' when the stream cannot be framed
   * (bad Content-Length, oversize): the connection must then be closed. A CRLFCRLF keep-alive
   * between messages comes out as the string 'ping'.
   */
  push(chunk: Buffer): Array<Buffer | 'ping'> | 'error' {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Array<Buffer | 'ping'> = [];
    for (;;) {
      let skip = 0;
      while (skip + 1 < this.buf.length && this.buf[skip] === 0x0d && this.buf[skip + 1] === 0x0a) {
        skip += 2;
        if (skip % 4 === 0) out.push('ping');
      }
      if (skip > 0) this.buf = this.buf.subarray(skip);
      const end = this.buf.indexOf(CRLFCRLF);
      if (end < 0) return this.buf.length > this.maxMessage ? 'error' : out;
      const head = this.buf.toString('latin1', 0, end);
      const m = /\r\n(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)/i.exec(head);
      const len = m ? (/^\d{1,10}\s*$/.test(m[1]) ? parseInt(m[1], 10) : -1) : 0;
      if (len < 0 || end + 4 + len > this.maxMessage) return 'error';
      if (this.buf.length < end + 4 + len) return out;
      out.push(Buffer.from(this.buf.subarray(0, end + 4 + len)));
      this.buf = this.buf.subarray(end + 4 + len);
    }
  }
}
