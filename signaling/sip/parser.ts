/** Bytes → SipMessage. Datagram framing (UDP, one WebSocket message) and stream framing (TCP). */
import { canonicalName } from './headers';
import { Header, SipMessage, SipRequest, SipResponse } from './message';

const CRLFCRLF = Buffer.from('\r\n\r\n');

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
  const lines = head.split('\r\n');
  // Leading CRLFs before the start line are allowed (RFC 3261 §7.5).
  while (lines.length > 0 && lines[0] === '') lines.shift();
  if (lines.length === 0) return null;
  const startLine = lines[0];
  const headers: Header[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    // A datagram missing its blank line ends in a bare CRLF (torture baddn): nothing more to read.
    if (line === '' && i === lines.length - 1) break;
    if ((line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09) && headers.length > 0) {
      const last = headers[headers.length - 1];
      last.value = `${last.value} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon).trim();
    if (!/^[A-Za-z0-9\-.!%*_+`'~]+$/.test(name)) return null;
    headers.push({ name, key: canonicalName(name), value: line.slice(colon + 1).trim() });
  }
  const msg = startLine.startsWith('SIP/') ? parseStatusLine(startLine, headers) : parseRequestLine(startLine, headers);
  if (!msg) return null;
  frameBody(msg, buf, bodyStart);
  return msg;
}

function parseRequestLine(line: string, headers: Header[]): SipMessage | null {
  const parts = line.split(' ');
  const req = new SipRequest(parts[0], parts[1] ?? '', headers, Buffer.alloc(0));
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
  const m = /^(SIP\/\S+) (\d{3}) (.*)$/.exec(line);
  if (!m) return null;
  const res = new SipResponse(Number(m[2]), m[3], headers, Buffer.alloc(0));
  res.version = m[1];
  return res;
}

function frameBody(msg: SipMessage, buf: Buffer, bodyStart: number): void {
  const available = buf.length - bodyStart;
  const count = msg.count('content-length');
  if (count === 0) {
    msg.body = buf.subarray(bodyStart);
    return;
  }
  const values = msg.headers.filter((h) => h.key === 'content-length').map((h) => h.value);
  const len = /^\d{1,10}$/.test(values[0]) ? Number(values[0]) : -1;
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
  msg.body = buf.subarray(bodyStart, bodyStart + len);
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
