/**
 * Run real JsSIP 3.13 user agents in Node against the test server.
 *
 * JsSIP is a browser library. To run it in Node we:
 *  - give it a Socket (a WebSocketInterface subclass) that opens the connection with the `ws`
 *    package, records every SIP message sent and received (`ua.wire`) and can drop the TCP
 *    connection abruptly (`ua.kill()`, like a crashed tab);
 *  - install a fake `RTCPeerConnection` / `RTCSessionDescription` (and `window`, because JsSIP
 *    checks `window.RTCPeerConnection`). The fake produces canned SDP (./sdp.ts), reports
 *    `iceGatheringState: 'complete'` so JsSIP sends the INVITE/200 at once, and never sends media;
 *  - pass a fake MediaStream with no tracks to call()/answer() so getUserMedia is never needed.
 *
 * Every wait is bounded (DEFAULT_TIMEOUT_MS unless given) and rejects with a message that says
 * what was awaited and what the UA/session saw so far, so a failing test never hangs.
 *
 * Set JSSIP_DEBUG=1 to see JsSIP's own debug log, TRACE_SIP=1 to print the SIP messages.
 */
import * as JsSIP from 'jssip';
import { WebSocket as WsWebSocket } from 'ws';
import { looksLikeSdp, makeAnswer, makeOffer } from './sdp';

export const DEFAULT_TIMEOUT_MS = 5000;

/** The part of test/support/server.ts's TestServer this helper needs. */
export interface ServerLike {
  domain: string;
  wsUrl: string;
}

// ---------------------------------------------------------------------------------------------
// Small timing helpers (also exported for the tests)
// ---------------------------------------------------------------------------------------------

/** Reject after `ms` with an error naming `what` (and the result of `detail()` if given). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string, detail?: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const extra = detail ? `\n${detail()}` : '';
      reject(new Error(`timed out after ${ms} ms waiting for ${what}${extra}`));
    }, ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Poll `cond` (sync or async) every `intervalMs` until it returns true; reject after `ms`. */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  ms = DEFAULT_TIMEOUT_MS,
  what = 'condition',
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + ms;
  let lastError: unknown;
  for (;;) {
    try {
      if (await cond()) return;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const suffix = lastError ? ` (last error: ${String(lastError)})` : '';
      throw new Error(`timed out after ${ms} ms waiting for ${what}${suffix}`);
    }
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A latch per event name: `fire(name, v)` records it; `wait(name)` resolves with the first (or a
 * later, see `index`) value fired under that name, whether it fired before or after the call.
 */
export class Latches {
  private readonly fired = new Map<string, unknown[]>();
  private readonly waiters = new Map<string, Array<{ index: number; resolve: (v: unknown) => void }>>();

  fire(name: string, value: unknown = true): void {
    const list = this.fired.get(name) ?? [];
    list.push(value);
    this.fired.set(name, list);
    const ws = this.waiters.get(name);
    if (!ws) return;
    const still = ws.filter((w) => {
      if (w.index < list.length) {
        w.resolve(list[w.index]);
        return false;
      }
      return true;
    });
    this.waiters.set(name, still);
  }

  count(name: string): number {
    return this.fired.get(name)?.length ?? 0;
  }

  has(name: string): boolean {
    return this.count(name) > 0;
  }

  values<T = unknown>(name: string): T[] {
    return (this.fired.get(name) ?? []) as T[];
  }

  /** Resolve with the index-th (0-based) value fired under `name`. */
  wait<T = unknown>(name: string, ms: number, what: string, detail?: () => string, index = 0): Promise<T> {
    const list = this.fired.get(name);
    if (list && index < list.length) return Promise.resolve(list[index] as T);
    const p = new Promise<T>((resolve) => {
      const ws = this.waiters.get(name) ?? [];
      ws.push({ index, resolve: resolve as (v: unknown) => void });
      this.waiters.set(name, ws);
    });
    return withTimeout(p, ms, what, detail);
  }

  /** Resolve with whichever of `names` fires first (or already fired). */
  waitAny<T = unknown>(names: string[], ms: number, what: string, detail?: () => string): Promise<{ name: string; value: T }> {
    for (const n of names) {
      const list = this.fired.get(n);
      if (list && list.length) return Promise.resolve({ name: n, value: list[0] as T });
    }
    let done = false;
    const p = new Promise<{ name: string; value: T }>((resolve) => {
      for (const n of names) {
        const ws = this.waiters.get(n) ?? [];
        ws.push({
          index: 0,
          resolve: (v) => {
            if (done) return;
            done = true;
            resolve({ name: n, value: v as T });
          },
        });
        this.waiters.set(n, ws);
      }
    });
    return withTimeout(p, ms, what, detail);
  }
}

// ---------------------------------------------------------------------------------------------
// Wire trace
// ---------------------------------------------------------------------------------------------

export interface WireEntry {
  dir: 'in' | 'out';
  at: number;
  text: string;
}

/** First line of a SIP message ("INVITE sip:... SIP/2.0" / "SIP/2.0 180 Ringing"). */
export function startLine(text: string): string {
  const i = text.indexOf('\r\n');
  return i < 0 ? text : text.slice(0, i);
}

/** Value of the first header `name` (or its compact form) in a raw SIP message. */
export function rawHeader(text: string, name: string, compact?: string): string | undefined {
  const head = text.split('\r\n\r\n')[0] ?? '';
  for (const line of head.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const h = line.slice(0, i).trim().toLowerCase();
    if (h === name.toLowerCase() || (compact && h === compact.toLowerCase())) return line.slice(i + 1).trim();
  }
  return undefined;
}

/** Messages of a trace whose start line matches `re`. */
export function wireMatching(wire: WireEntry[], dir: 'in' | 'out', re: RegExp): WireEntry[] {
  return wire.filter((w) => w.dir === dir && re.test(startLine(w.text)));
}

export function formatWire(wire: WireEntry[], max = 40): string {
  const t0 = wire[0]?.at ?? 0;
  return wire
    .slice(-max)
    .map((w) => `  ${w.dir === 'in' ? '<-' : '->'} +${w.at - t0}ms ${startLine(w.text)}`)
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// Globals: fake WebRTC
// ---------------------------------------------------------------------------------------------

type Listener = (ev: any) => void;

/** Just enough of RTCSessionDescription for JsSIP (`new RTCSessionDescription({type, sdp})`). */
export class FakeRTCSessionDescription {
  type: string;
  sdp: string;
  constructor(init: { type: string; sdp: string }) {
    this.type = init.type;
    this.sdp = init.sdp;
  }
  toJSON(): { type: string; sdp: string } {
    return { type: this.type, sdp: this.sdp };
  }
}

/**
 * A signalling-only RTCPeerConnection: offer/answer state machine over canned SDP, ICE gathering
 * already 'complete', no tracks, no media. What JsSIP's RTCSession calls on it: constructor,
 * addEventListener/removeEventListener, createOffer/createAnswer, setLocalDescription/
 * setRemoteDescription, localDescription/remoteDescription, iceGatheringState, signalingState,
 * iceConnectionState, addTrack, getSenders/getReceivers/getTransceivers, close.
 */
export class FakeRTCPeerConnection {
  static instances = 0;
  signalingState: 'stable' | 'have-local-offer' | 'have-remote-offer' | 'closed' = 'stable';
  iceGatheringState: 'new' | 'gathering' | 'complete' = 'complete';
  iceConnectionState = 'new';
  connectionState = 'new';
  localDescription: FakeRTCSessionDescription | null = null;
  remoteDescription: FakeRTCSessionDescription | null = null;
  currentLocalDescription: FakeRTCSessionDescription | null = null;
  currentRemoteDescription: FakeRTCSessionDescription | null = null;
  pendingLocalDescription: FakeRTCSessionDescription | null = null;
  pendingRemoteDescription: FakeRTCSessionDescription | null = null;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly sessionId = String(Date.now() * 1000 + (FakeRTCPeerConnection.instances++ % 1000));
  private version = 1;
  private senders: Array<{ track: unknown }> = [];

  constructor(public readonly config?: unknown, public readonly constraints?: unknown) {}

  addEventListener(type: string, fn: Listener): void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(fn);
  }
  removeEventListener(type: string, fn: Listener): void {
    this.listeners.get(type)?.delete(fn);
  }
  dispatchEvent(ev: { type: string }): boolean {
    for (const fn of [...(this.listeners.get(ev.type) ?? [])]) fn(ev);
    const prop = (this as any)[`on${ev.type}`];
    if (typeof prop === 'function') prop.call(this, ev);
    return true;
  }
  private emit(type: string, extra: Record<string, unknown> = {}): void {
    this.dispatchEvent({ type, target: this, ...extra } as { type: string });
  }

  async createOffer(_opts?: unknown): Promise<{ type: 'offer'; sdp: string }> {
    this.assertOpen();
    return { type: 'offer', sdp: makeOffer({ sessionId: this.sessionId, version: ++this.version }) };
  }
  async createAnswer(_opts?: unknown): Promise<{ type: 'answer'; sdp: string }> {
    this.assertOpen();
    if (this.signalingState !== 'have-remote-offer') {
      throw Object.assign(new Error(`createAnswer in state ${this.signalingState}`), { name: 'InvalidStateError' });
    }
    return { type: 'answer', sdp: makeAnswer({ sessionId: this.sessionId, version: ++this.version }) };
  }
  async setLocalDescription(desc?: { type: string; sdp?: string }): Promise<void> {
    this.assertOpen();
    if (!desc) desc = this.signalingState === 'have-remote-offer' ? await this.createAnswer() : await this.createOffer();
    const d = new FakeRTCSessionDescription({ type: desc.type, sdp: desc.sdp ?? '' });
    this.apply('local', d);
    // End-of-candidates, as a browser would after gathering (JsSIP resolves before this anyway
    // because iceGatheringState is already 'complete').
    setImmediate(() => {
      if (this.signalingState === 'closed') return;
      this.emit('icecandidate', { candidate: null });
    });
  }
  async setRemoteDescription(desc: { type: string; sdp: string }): Promise<void> {
    this.assertOpen();
    if (desc.type !== 'rollback' && !looksLikeSdp(desc.sdp)) {
      throw Object.assign(new Error('setRemoteDescription: not an SDP body'), { name: 'OperationError' });
    }
    this.apply('remote', new FakeRTCSessionDescription({ type: desc.type, sdp: desc.sdp }));
  }
  private apply(side: 'local' | 'remote', d: FakeRTCSessionDescription): void {
    const before = this.signalingState;
    if (d.type === 'rollback') {
      this.signalingState = 'stable';
      this.pendingLocalDescription = this.pendingRemoteDescription = null;
    } else if (d.type === 'offer') {
      const ok = before === 'stable' || before === (side === 'local' ? 'have-local-offer' : 'have-remote-offer');
      if (!ok) throw Object.assign(new Error(`set ${side} offer in state ${before}`), { name: 'InvalidStateError' });
      this.signalingState = side === 'local' ? 'have-local-offer' : 'have-remote-offer';
      if (side === 'local') this.pendingLocalDescription = d;
      else this.pendingRemoteDescription = d;
    } else {
      // answer / pranswer
      const need = side === 'local' ? 'have-remote-offer' : 'have-local-offer';
      if (before !== need) throw Object.assign(new Error(`set ${side} ${d.type} in state ${before}`), { name: 'InvalidStateError' });
      if (d.type === 'answer') {
        this.signalingState = 'stable';
        if (side === 'local') {
          this.currentLocalDescription = d;
          this.currentRemoteDescription = this.pendingRemoteDescription;
        } else {
          this.currentRemoteDescription = d;
          this.currentLocalDescription = this.pendingLocalDescription;
        }
        this.pendingLocalDescription = this.pendingRemoteDescription = null;
      }
    }
    if (side === 'local') this.localDescription = d;
    else this.remoteDescription = d;
    if (before !== this.signalingState) this.emit('signalingstatechange');
    if (this.signalingState === 'stable' && this.iceConnectionState === 'new') {
      // Pretend ICE connected so nothing in the library waits for it.
      this.iceConnectionState = 'connected';
      this.connectionState = 'connected';
      setImmediate(() => {
        if (this.signalingState === 'closed') return;
        this.emit('iceconnectionstatechange');
        this.emit('connectionstatechange');
      });
    }
  }
  private assertOpen(): void {
    if (this.signalingState === 'closed') {
      throw Object.assign(new Error('RTCPeerConnection is closed'), { name: 'InvalidStateError' });
    }
  }

  addTrack(track: unknown, ..._streams: unknown[]): { track: unknown } {
    const s = { track, replaceTrack: async (t: unknown) => void (s.track = t), getParameters: () => ({}) };
    this.senders.push(s);
    return s;
  }
  removeTrack(sender: { track: unknown }): void {
    this.senders = this.senders.filter((s) => s !== sender);
  }
  getSenders(): Array<{ track: unknown }> {
    return [...this.senders];
  }
  getReceivers(): unknown[] {
    return [];
  }
  getTransceivers(): unknown[] {
    return [];
  }
  getLocalStreams(): unknown[] {
    return [];
  }
  getRemoteStreams(): unknown[] {
    return [];
  }
  async getStats(): Promise<Map<string, unknown>> {
    return new Map();
  }
  addIceCandidate(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    if (this.signalingState === 'closed') return;
    this.signalingState = 'closed';
    this.iceConnectionState = 'closed';
    this.connectionState = 'closed';
  }
}

/** A MediaStream with no tracks: enough for JsSIP's call()/answer() (`mediaStream` option). */
export class FakeMediaStream {
  readonly id = `fake-${Math.random().toString(36).slice(2, 10)}`;
  readonly active = true;
  getTracks(): unknown[] {
    return [];
  }
  getAudioTracks(): unknown[] {
    return [];
  }
  getVideoTracks(): unknown[] {
    return [];
  }
  addTrack(): void {}
  removeTrack(): void {}
  clone(): FakeMediaStream {
    return new FakeMediaStream();
  }
}

let globalsInstalled = false;

/**
 * Install the globals JsSIP (and SIP.js's Web transport) need. Idempotent. `window` is a small
 * object (not globalThis) so that libraries testing `typeof window` see as little as possible.
 */
export function installWebRtcGlobals(): void {
  if (globalsInstalled) return;
  globalsInstalled = true;
  const g = globalThis as any;
  if (typeof g.WebSocket === 'undefined') g.WebSocket = WsWebSocket;
  if (typeof g.RTCPeerConnection === 'undefined') g.RTCPeerConnection = FakeRTCPeerConnection;
  if (typeof g.RTCSessionDescription === 'undefined') g.RTCSessionDescription = FakeRTCSessionDescription;
  if (typeof g.window === 'undefined') g.window = {};
  if (!g.window.RTCPeerConnection) g.window.RTCPeerConnection = g.RTCPeerConnection;
  if (!g.window.RTCSessionDescription) g.window.RTCSessionDescription = g.RTCSessionDescription;
  if (process.env.JSSIP_DEBUG) JsSIP.debug.enable('JsSIP:*');
  else JsSIP.debug.disable();
}

// ---------------------------------------------------------------------------------------------
// Socket
// ---------------------------------------------------------------------------------------------

/**
 * JsSIP's WebSocketInterface, but the connection is a `ws` client (sub-protocol 'sip'; `ws`
 * fails the handshake if the server does not echo it), every message is traced, and `kill()`
 * drops the TCP connection without a close frame and without telling JsSIP (so it neither
 * unregisters nor reconnects: the server only sees the connection die).
 */
export class TracingSocket extends JsSIP.WebSocketInterface {
  readonly wire: WireEntry[] = [];
  killed = false;
  private readonly label: string;

  constructor(url: string, label: string) {
    super(url);
    this.label = label;
  }

  override connect(): void {
    const self = this as any;
    if (this.killed) return;
    if (this.isConnected() || this.isConnecting()) return;
    if (self._ws) this.disconnect();
    try {
      const ws = new WsWebSocket(self._url, 'sip');
      self._ws = ws;
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => self._onOpen();
      ws.onclose = (ev) => self._onClose(ev);
      ws.onmessage = (ev) => self._onMessage(ev);
      ws.onerror = (ev) => self._onError(ev.error ?? ev);
    } catch (error) {
      self._onError(error);
    }
  }

  override send(message: string | ArrayBufferLike | Blob | ArrayBufferView): boolean {
    const text = typeof message === 'string' ? message : String(message);
    const ok = super.send(message);
    if (ok) this.trace('out', text);
    return ok;
  }

  // Called by the base class's ws.onmessage.
  _onMessage(ev: { data: unknown }): void {
    const data = ev.data;
    const text = typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer).toString('utf8');
    this.trace('in', text);
    (JsSIP.WebSocketInterface.prototype as any)._onMessage.call(this, ev);
  }

  /** Abrupt close: no WS close frame, no unREGISTER, JsSIP is not told. */
  kill(): void {
    const ws = (this as any)._ws as WsWebSocket | null;
    this.killed = true;
    if (!ws) return;
    ws.onopen = ws.onclose = ws.onmessage = ws.onerror = () => {};
    ws.on('error', () => {});
    ws.terminate();
  }

  private trace(dir: 'in' | 'out', text: string): void {
    if (text === '\r\n' || text === '\r\n\r\n') return; // keep-alives
    this.wire.push({ dir, at: Date.now(), text });
    if (process.env.TRACE_SIP) {
      process.stdout.write(`\n[${this.label}] ${dir === 'in' ? '<<<' : '>>>'}\n${text}\n`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------

export interface EndInfo {
  /** Which JsSIP event ended the session. */
  event: 'ended' | 'failed';
  originator: 'local' | 'remote' | 'system';
  /** JsSIP cause, e.g. 'Canceled', 'Busy', 'Not Found', 'Unavailable', 'Terminated'. */
  cause: string;
  /** The message that ended it, when there was one. */
  method?: string; // request (CANCEL, BYE)
  statusCode?: number; // response
  reasonPhrase?: string;
  /** The Reason header of that message (e.g. on a CANCEL: SIP ;cause=200 ;text="Call completed elsewhere"). */
  reasonHeader?: string;
}

export interface SessionEventRecord {
  at: number;
  event: string;
  originator?: string;
  statusCode?: number;
  method?: string;
  cause?: string;
}

function describeMessage(message: any): Pick<EndInfo, 'method' | 'statusCode' | 'reasonPhrase' | 'reasonHeader'> {
  if (!message) return {};
  const out: Pick<EndInfo, 'method' | 'statusCode' | 'reasonPhrase' | 'reasonHeader'> = {};
  if (typeof message.status_code === 'number') {
    out.statusCode = message.status_code;
    out.reasonPhrase = message.reason_phrase;
  } else if (typeof message.method === 'string') {
    out.method = message.method;
  }
  if (typeof message.getHeader === 'function') {
    const r = message.getHeader('Reason');
    if (r) out.reasonHeader = r;
  }
  return out;
}

export class JsSipSession {
  readonly events: SessionEventRecord[] = [];
  readonly latches = new Latches();
  /** Status codes of the INVITE responses JsSIP reported (1xx via 'progress', 2xx, failure). */
  readonly responses: number[] = [];
  endInfo?: EndInfo;

  constructor(
    readonly owner: JsSipUa,
    readonly session: any /* JsSIP RTCSession */,
    readonly direction: 'incoming' | 'outgoing',
    readonly request: any,
    private readonly timeoutMs: number,
  ) {
    const rec = (event: string, e: any, extra: Partial<SessionEventRecord> = {}): void => {
      this.events.push({ at: Date.now(), event, originator: e?.originator, ...extra });
    };
    session.on('progress', (e: any) => {
      const code = e?.response?.status_code;
      if (typeof code === 'number') this.responses.push(code);
      rec('progress', e, { statusCode: code });
      this.latches.fire('progress', code ?? true);
    });
    session.on('accepted', (e: any) => {
      const code = e?.response?.status_code;
      if (typeof code === 'number') this.responses.push(code);
      rec('accepted', e, { statusCode: code });
      this.latches.fire('accepted', e);
    });
    session.on('confirmed', (e: any) => {
      rec('confirmed', e);
      this.latches.fire('confirmed', e);
    });
    for (const ev of ['ended', 'failed'] as const) {
      session.on(ev, (e: any) => {
        const info: EndInfo = { event: ev, originator: e?.originator, cause: e?.cause, ...describeMessage(e?.message) };
        if (ev === 'failed' && info.statusCode !== undefined && this.direction === 'outgoing') {
          this.responses.push(info.statusCode);
        }
        this.endInfo = info;
        rec(ev, e, { cause: info.cause, statusCode: info.statusCode, method: info.method });
        this.latches.fire(ev, info);
        this.latches.fire('finished', info);
      });
    }
    for (const ev of ['newDTMF', 'newInfo', 'reinvite', 'update', 'hold', 'unhold', 'sending']) {
      session.on(ev, (e: any) => rec(ev, e));
    }
  }

  get id(): string {
    return this.session.id;
  }
  /** The Call-ID of the dialog-forming INVITE. */
  get callId(): string {
    return this.request?.call_id;
  }
  get status(): number {
    return this.session.status;
  }
  isEstablished(): boolean {
    return this.session.isEstablished();
  }
  isEnded(): boolean {
    return this.session.isEnded();
  }

  /** SIP messages of the owning UA that belong to this call (same Call-ID). */
  wire(): WireEntry[] {
    const cid = this.callId;
    return this.owner.wire.filter((w) => rawHeader(w.text, 'Call-ID', 'i') === cid);
  }

  describe(): string {
    const ev = this.events.map((e) => `${e.event}${e.statusCode ? ` ${e.statusCode}` : ''}${e.cause ? ` (${e.cause})` : ''}${e.method ? ` [${e.method}]` : ''}`).join(', ');
    return `  ${this.owner.label} ${this.direction} session events: [${ev}]\n${formatWire(this.wire())}`;
  }

  private w<T>(name: string, what: string, ms?: number): Promise<T> {
    return this.latches.wait<T>(name, ms ?? this.timeoutMs, `${this.owner.label}: ${what}`, () => this.describe());
  }

  /** First 1xx (> 100) the caller got; resolves with its status code. */
  progress(ms?: number): Promise<number> {
    return this.w('progress', 'a provisional response (progress)', ms);
  }
  /** Caller: 2xx received; callee: 2xx sent. */
  accepted(ms?: number): Promise<unknown> {
    return this.w('accepted', 'session accepted', ms);
  }
  /** Caller: ACK sent; callee: ACK received. */
  confirmed(ms?: number): Promise<unknown> {
    return this.w('confirmed', 'session confirmed (ACK)', ms);
  }
  /** Established session ended (BYE). */
  ended(ms?: number): Promise<EndInfo> {
    return this.w('ended', "session 'ended'", ms);
  }
  /** Session failed before being established (error response, CANCEL, ...). */
  failed(ms?: number): Promise<EndInfo> {
    return this.w('failed', "session 'failed'", ms);
  }
  /** 'ended' or 'failed', whichever comes. */
  finished(ms?: number): Promise<EndInfo> {
    return this.w('finished', 'session end (ended/failed)', ms);
  }

  /** Callee: answer with a fake stream (canned SDP). Resolves once the 2xx was sent ('accepted'). */
  async answer(opts: Record<string, unknown> = {}): Promise<void> {
    this.session.answer({
      mediaStream: new FakeMediaStream(),
      mediaConstraints: { audio: true, video: false },
      ...opts,
    });
    await this.accepted();
  }

  /** Callee: reject with a final response (default 486 Busy Here). */
  reject(statusCode = 486, reasonPhrase?: string): void {
    this.session.terminate({ status_code: statusCode, ...(reasonPhrase ? { reason_phrase: reasonPhrase } : {}) });
  }

  /** JsSIP terminate(): BYE when established, CANCEL when the caller is ringing, reject for a callee. */
  terminate(opts: Record<string, unknown> = {}): void {
    this.session.terminate(opts);
  }

  /** Send BYE on an established session and wait for the local 'ended'. */
  async hangup(): Promise<EndInfo> {
    this.session.terminate();
    return this.ended();
  }
}

// ---------------------------------------------------------------------------------------------
// User agent
// ---------------------------------------------------------------------------------------------

export interface JsSipUaOptions {
  server: ServerLike;
  username: string;
  password: string;
  /** Register on start (default true). */
  register?: boolean;
  /** REGISTER expires (JsSIP default 600; JsSIP refreshes at expires-5 s when <= 64). */
  registerExpires?: number;
  /** +sip.instance UUID (JsSIP makes a random one otherwise). */
  instanceId?: string;
  displayName?: string;
  /** JsSIP session timers (default false here to keep traces small). */
  sessionTimers?: boolean;
  /** Bound for every wait (default DEFAULT_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Label in error messages/traces (default username). */
  label?: string;
  /** Wait for the WS to be connected (default true) before returning. */
  waitConnected?: boolean;
  /** Extra JsSIP UA configuration. */
  config?: Record<string, unknown>;
}

export interface UaEventRecord {
  at: number;
  event: string;
  statusCode?: number;
  cause?: string;
}

const liveUas = new Set<JsSipUa>();

export class JsSipUa {
  readonly ua: any; // JsSIP.UA
  readonly socket: TracingSocket;
  readonly events: UaEventRecord[] = [];
  readonly latches = new Latches();
  readonly sessions: JsSipSession[] = [];
  readonly uri: string;
  readonly label: string;
  readonly timeoutMs: number;
  private readonly incoming: JsSipSession[] = [];
  private incomingTaken = 0;
  private pendingOutgoing?: JsSipSession;
  private stopped = false;

  constructor(readonly opts: JsSipUaOptions) {
    installWebRtcGlobals();
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.label = opts.label ?? `jssip:${opts.username}`;
    this.uri = `sip:${opts.username}@${opts.server.domain}`;
    this.socket = new TracingSocket(opts.server.wsUrl, this.label);
    const config: Record<string, unknown> = {
      sockets: [this.socket],
      uri: this.uri,
      password: opts.password,
      register: opts.register ?? true,
      session_timers: opts.sessionTimers ?? false,
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 4,
      user_agent: `JsSIP ${JsSIP.version} (wac-ts e2e)`,
      ...opts.config,
    };
    if (opts.registerExpires !== undefined) config.register_expires = opts.registerExpires;
    if (opts.instanceId !== undefined) config.instance_id = opts.instanceId;
    if (opts.displayName !== undefined) config.display_name = opts.displayName;
    this.ua = new JsSIP.UA(config as any);

    const rec = (event: string, extra: Partial<UaEventRecord> = {}): void => {
      this.events.push({ at: Date.now(), event, ...extra });
    };
    this.ua.on('connected', () => {
      rec('connected');
      this.latches.fire('connected');
    });
    this.ua.on('disconnected', (e: any) => {
      rec('disconnected', { cause: e?.reason });
      this.latches.fire('disconnected', e);
    });
    this.ua.on('registered', (e: any) => {
      rec('registered', { statusCode: e?.response?.status_code });
      this.latches.fire('registered', e?.response);
    });
    this.ua.on('unregistered', (e: any) => {
      rec('unregistered', { statusCode: e?.response?.status_code, cause: e?.cause });
      this.latches.fire('unregistered', { statusCode: e?.response?.status_code, cause: e?.cause });
    });
    this.ua.on('registrationFailed', (e: any) => {
      const info = { statusCode: e?.response?.status_code as number | undefined, cause: e?.cause as string };
      rec('registrationFailed', info);
      this.latches.fire('registrationFailed', info);
    });
    this.ua.on('newRTCSession', (e: any) => {
      const dir = e.originator === 'remote' ? 'incoming' : 'outgoing';
      const s = new JsSipSession(this, e.session, dir, e.request, this.timeoutMs);
      this.sessions.push(s);
      rec(`newRTCSession:${dir}`);
      if (dir === 'incoming') {
        this.incoming.push(s);
        this.latches.fire('incoming', s);
      } else {
        this.pendingOutgoing = s;
      }
    });
    liveUas.add(this);
  }

  get wire(): WireEntry[] {
    return this.socket.wire;
  }

  describe(): string {
    const ev = this.events.map((e) => `${e.event}${e.statusCode ? ` ${e.statusCode}` : ''}${e.cause ? ` (${e.cause})` : ''}`).join(', ');
    return `  ${this.label} events: [${ev}]\n${formatWire(this.wire)}`;
  }

  private w<T>(name: string, what: string, ms?: number, index = 0): Promise<T> {
    return this.latches.wait<T>(name, ms ?? this.timeoutMs, `${this.label}: ${what}`, () => this.describe(), index);
  }

  start(): void {
    this.ua.start();
  }

  connected(ms?: number): Promise<void> {
    return this.w('connected', 'WebSocket connected', ms);
  }

  /**
   * Resolves once registered (JsSIP 'registered'); rejects with the status code if registration
   * fails first.
   */
  async registered(ms?: number): Promise<void> {
    if (this.ua.isRegistered()) return;
    const n = this.latches.count('registrationFailed');
    const r = await this.latches.waitAny<any>(
      n === 0 ? ['registered', 'registrationFailed'] : ['registered'],
      ms ?? this.timeoutMs,
      `${this.label}: registered`,
      () => this.describe(),
    );
    if (r.name === 'registrationFailed') {
      throw new Error(`${this.label}: registration failed: ${r.value?.statusCode ?? ''} ${r.value?.cause ?? ''}`);
    }
  }

  /** Wait until `n` 2xx responses to REGISTER have been received in total (refresh tracking). */
  async registerOks(n: number, ms?: number): Promise<void> {
    await waitUntil(() => this.registerOkCount() >= n, ms ?? this.timeoutMs, `${this.label}: ${n} 200 OKs to REGISTER\n${this.describe()}`);
  }

  /** Resolves with {statusCode, cause} of the registration failure (rejects on success). */
  async registrationFailed(ms?: number): Promise<{ statusCode?: number; cause: string }> {
    const r = await this.latches.waitAny<any>(['registrationFailed', 'registered'], ms ?? this.timeoutMs, `${this.label}: registrationFailed`, () => this.describe());
    if (r.name === 'registered') throw new Error(`${this.label}: expected registration to fail, but it succeeded`);
    return r.value;
  }

  /**
   * How many 2xx to REGISTER the UA received (initial, refreshes, un-REGISTER). JsSIP emits
   * 'registered' only on the transition to registered, so refreshes are counted on the wire.
   */
  registerOkCount(): number {
    return this.wire.filter((w) => w.dir === 'in' && /^SIP\/2\.0 2\d\d/.test(startLine(w.text)) && /REGISTER$/i.test(rawHeader(w.text, 'CSeq') ?? '')).length;
  }

  isRegistered(): boolean {
    return this.ua.isRegistered();
  }

  /** Send an un-REGISTER (expires 0) and wait for JsSIP's 'unregistered'. */
  async unregister(opts: { all?: boolean } = {}, ms?: number): Promise<{ statusCode?: number; cause?: string }> {
    const n = this.latches.count('unregistered');
    this.ua.unregister(opts);
    return this.w('unregistered', 'unregistered', ms, n);
  }

  /** Start a call to `target` ('bob' or a full SIP URI). Returns the outgoing session wrapper. */
  call(target: string, opts: Record<string, unknown> = {}): JsSipSession {
    const t = target.includes(':') || target.includes('@') ? target : `sip:${target}@${this.opts.server.domain}`;
    this.pendingOutgoing = undefined;
    this.ua.call(t, {
      mediaStream: new FakeMediaStream(),
      mediaConstraints: { audio: true, video: false },
      ...opts,
    });
    const s = this.pendingOutgoing as JsSipSession | undefined;
    if (!s) throw new Error(`${this.label}: ua.call() did not create a session`);
    this.pendingOutgoing = undefined;
    return s;
  }

  /** The next incoming session not yet returned by nextIncoming(). */
  async nextIncoming(ms?: number): Promise<JsSipSession> {
    const idx = this.incomingTaken++;
    try {
      return await this.w<JsSipSession>('incoming', `incoming call #${idx + 1}`, ms, idx);
    } catch (err) {
      this.incomingTaken--;
      throw err;
    }
  }

  /** Incoming sessions received so far. */
  get incomingSessions(): readonly JsSipSession[] {
    return this.incoming;
  }

  /** Drop the WebSocket abruptly (no close frame, no unREGISTER; JsSIP won't reconnect). */
  kill(): void {
    this.socket.kill();
  }

  /** Stop the UA (unREGISTER if registered, end calls, close the socket); bounded. */
  async stop(ms = 3000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    liveUas.delete(this);
    try {
      // After kill() the unREGISTER/BYEs JsSIP tries here fail locally (socket not open).
      this.ua.stop();
    } catch {
      /* ignore */
    }
    const ua = this.ua as any;
    if (!this.socket.killed && this.socket.isConnected()) {
      // JsSIP waits a fixed 2 s before closing the socket when requests are in flight
      // (un-REGISTER, BYE, CANCEL). Wait only until they are answered instead.
      // Only non-INVITE client transactions matter: INVITE transactions linger in 'accepted'
      // (Timer L/M) after a 2xx although nothing is left to send.
      const pending = (): number => Object.keys(ua._transactions?.nict ?? {}).length;
      await waitUntil(() => pending() === 0 || this.latches.has('disconnected'), ms, 'JsSIP transactions to finish', 10).catch(() => undefined);
    }
    if (ua._closeTimer) {
      clearTimeout(ua._closeTimer);
      ua._closeTimer = null;
    }
    try {
      ua._transport?.disconnect();
    } catch {
      /* ignore */
    }
  }
}

/** Create a JsSIP UA, start it and (unless register:false) wait until it is registered. */
export async function createJsSipUa(opts: JsSipUaOptions): Promise<JsSipUa> {
  const ua = new JsSipUa(opts);
  ua.start();
  try {
    if (opts.waitConnected ?? true) await ua.connected();
    if (opts.register ?? true) await ua.registered();
  } catch (err) {
    await ua.stop();
    throw err;
  }
  return ua;
}

/** Create a UA whose registration is expected to fail; does not wait for success. */
export async function createJsSipUaNoWait(opts: JsSipUaOptions): Promise<JsSipUa> {
  const ua = new JsSipUa(opts);
  ua.start();
  return ua;
}

/** Stop every JsSIP UA created through this module that is still running (for afterEach). */
export async function stopAllJsSipUas(): Promise<void> {
  await Promise.all([...liveUas].map((u) => u.stop()));
}
