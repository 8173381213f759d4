/**
 * SIP messages over a Buffer. Headers are split into (name, value) pairs once; structured views
 * (Via, From, CSeq, ...) are parsed only when asked for and cached. Unknown headers and the body are
 * carried byte-exact: header text is decoded as latin1 so that every byte round-trips unchanged.
 */
import { canonicalName, isListHeader, listSeparator, splitList } from './headers';
import { NameAddr, parseNameAddr } from './name-addr';
import { parseVia, Via } from './via';

/** A header line. Never changed in place: messages and their clones share these objects. */
export interface Header {
  /** Name as written (kept on output). */
  readonly name: string;
  /** Canonical lower-case long name. */
  readonly key: string;
  readonly value: string;
}

export interface CSeq {
  seq: number;
  method: string;
}

/** Problem found while framing the message (e.g. bad Content-Length), answered with `status`. */
export interface Defect {
  status: number;
  reason: string;
}

export abstract class SipMessage {
  abstract readonly isRequest: boolean;
  version = 'SIP/2.0';
  headers: Header[];
  body: Buffer;
  defect: Defect | null = null;
  // Parsed views, filled on first use; `undefined` = not parsed yet (parsing may yield null).
  private cCseq: CSeq | null | undefined;
  private cFrom: NameAddr | null | undefined;
  private cTo: NameAddr | null | undefined;
  private cVias: Via[] | null | undefined;
  private cTopVia: Via | null | undefined;

  constructor(headers: Header[], body: Buffer) {
    this.headers = headers;
    this.body = body;
  }

  abstract startLine(): string;

  get(key: string): string | undefined {
    for (const h of this.headers) if (h.key === key) return h.value;
    return undefined;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Number of header lines with this name (not list elements). */
  count(key: string): number {
    let n = 0;
    for (const h of this.headers) if (h.key === key) n++;
    return n;
  }

  /** Every value of a header; list headers are split into their elements. */
  getAll(key: string): string[] {
    const out: string[] = [];
    const list = isListHeader(key);
    for (const h of this.headers) {
      if (h.key !== key) continue;
      if (list) for (const v of splitList(h.value)) out.push(v);
      else out.push(h.value);
    }
    return out;
  }

  /** The first element of a list header (top Route, top Via text), or undefined when absent. */
  first(key: string): string | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    const sep = listSeparator(v);
    return sep < 0 ? v : v.slice(0, sep).trim();
  }

  /** Replaces every header of this name with one value, in the place of the first (at the end when absent). */
  set(name: string, value: string): void {
    const key = canonicalName(name);
    const h = { name, key, value };
    const out: Header[] = [];
    let placed = false;
    for (const x of this.headers) {
      if (x.key !== key) out.push(x);
      else if (!placed) {
        out.push(h);
        placed = true;
      }
    }
    if (!placed) out.push(h);
    this.headers = out;
    this.invalidate(key);
  }

  append(name: string, value: string): void {
    const key = canonicalName(name);
    this.headers.push({ name, key, value });
    this.invalidate(key);
  }

  /** Inserts a header line above the first line of the same name (or at the top). */
  prepend(name: string, value: string): void {
    const key = canonicalName(name);
    const i = this.headers.findIndex((h) => h.key === key);
    this.headers.splice(i < 0 ? 0 : i, 0, { name, key, value });
    this.invalidate(key);
  }

  remove(key: string): void {
    this.headers = this.headers.filter((h) => h.key !== key);
    this.invalidate(key);
  }

  /** Removes the first element of a list header (top Via, top Route), keeping the rest of its line. */
  removeFirst(key: string): void {
    const i = this.headers.findIndex((h) => h.key === key);
    if (i < 0) return;
    const h = this.headers[i];
    const sep = listSeparator(h.value);
    const rest = sep < 0 ? '' : h.value.slice(sep + 1).trim();
    if (rest === '') this.headers.splice(i, 1);
    else this.headers[i] = { name: h.name, key, value: rest };
    this.invalidate(key);
  }

  /** Forgets the parsed view of a header after it changed. */
  private invalidate(key: string): void {
    switch (key) {
      case 'via': this.cVias = this.cTopVia = undefined; break;
      case 'cseq': this.cCseq = undefined; break;
      case 'from': this.cFrom = undefined; break;
      case 'to': this.cTo = undefined; break;
      default:
    }
  }

  get callId(): string {
    return this.get('call-id') ?? '';
  }

  get cseq(): CSeq | null {
    if (this.cCseq === undefined) this.cCseq = parseCSeq(this.get('cseq'));
    return this.cCseq;
  }

  get from(): NameAddr | null {
    if (this.cFrom === undefined) {
      const v = this.get('from');
      this.cFrom = v === undefined ? null : parseNameAddr(v);
    }
    return this.cFrom;
  }

  get to(): NameAddr | null {
    if (this.cTo === undefined) {
      const v = this.get('to');
      this.cTo = v === undefined ? null : parseNameAddr(v);
    }
    return this.cTo;
  }

  get fromTag(): string | null {
    return this.from?.params.get('tag') ?? null;
  }

  get toTag(): string | null {
    return this.to?.params.get('tag') ?? null;
  }

  /** Every Via in order; an unparsable value makes the whole list null. */
  get vias(): Via[] | null {
    if (this.cVias === undefined) this.cVias = parseVias(this.getAll('via'));
    return this.cVias;
  }

  /** The first Via, parsed on its own: matching a response needs no other. */
  get topVia(): Via | null {
    if (this.cVias !== undefined) return this.cVias && this.cVias.length > 0 ? this.cVias[0] : null;
    if (this.cTopVia === undefined) {
      const v = this.first('via');
      this.cTopVia = v === undefined ? null : parseVia(v);
    }
    return this.cTopVia;
  }

  /** Serialises with a Content-Length that matches the body in bytes. */
  toBuffer(): Buffer {
    let head = this.startLine() + '\r\n';
    let hasLength = false;
    for (const h of this.headers) {
      if (h.key === 'content-length') {
        if (hasLength) continue;
        hasLength = true;
        head += `${h.name}: ${this.body.length}\r\n`;
      } else head += `${h.name}: ${h.value}\r\n`;
    }
    if (!hasLength) head += `Content-Length: ${this.body.length}\r\n`;
    head += '\r\n';
    const headLen = Buffer.byteLength(head, 'latin1');
    const out = Buffer.allocUnsafe(headLen + this.body.length);
    out.write(head, 0, 'latin1');
    this.body.copy(out, headLen);
    return out;
  }
}

export class SipRequest extends SipMessage {
  readonly isRequest = true;
  constructor(public method: string, public uri: string, headers: Header[], body: Buffer) {
    super(headers, body);
  }
  startLine(): string {
    return `${this.method} ${this.uri} ${this.version}`;
  }

  /** An independent copy for forwarding (header list copied; header objects and body are never mutated, so shared). */
  clone(): SipRequest {
    const c = new SipRequest(this.method, this.uri, this.headers.slice(), this.body);
    c.version = this.version;
    return c;
  }
}

export class SipResponse extends SipMessage {
  readonly isRequest = false;
  constructor(public status: number, public reason: string, headers: Header[], body: Buffer) {
    super(headers, body);
  }
  startLine(): string {
    return `${this.version} ${this.status} ${this.reason}`;
  }

  clone(): SipResponse {
    const c = new SipResponse(this.status, this.reason, this.headers.slice(), this.body);
    c.version = this.version;
    return c;
  }
}

export const MAX_UINT32 = 4294967295;

/** The body of a message without one; bodies are never written to, so one instance serves all. */
export const NO_BODY = Buffer.alloc(0);

/**
 * A copy of a string taken from a message that does not share memory with it. A substring, or a
 * string concatenated from substrings, keeps the message's whole header block alive for as long as
 * it is kept (a binding: for its lifetime).
 */
export function own(s: string): string {
  // V8 makes substrings shorter than 13 characters as copies already.
  return s.length < 13 ? s : Buffer.from(s, 'latin1').toString('latin1');
}

function parseVias(values: string[]): Via[] | null {
  const out: Via[] = [];
  for (const v of values) {
    const via = parseVia(v);
    if (!via) return null;
    out.push(via);
  }
  return out;
}

function parseCSeq(v: string | undefined): CSeq | null {
  if (v === undefined) return null;
  const m = /^(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)$/.exec(v.trim());
  if (!m) return null;
  const seq = Number(m[1]);
  if (seq > MAX_UINT32) return null;
  return { seq, method: m[2] };
}

export function header(name: string, value: string): Header {
  return { name, key: canonicalName(name), value };
}
