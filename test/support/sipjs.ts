/**
 * Run real SIP.js 0.21 user agents (UserAgent + Registerer + Inviter/Invitation) in Node against
 * the test server.
 *
 * - SIP.js is ESM; it is loaded with `await import('sip.js')` (createSipJsUa is async).
 * - Its Web transport uses the global `WebSocket`: installWebRtcGlobals() (./jssip.ts) sets it to
 *   the `ws` package's class when Node has none.
 * - Media: a mock SessionDescriptionHandler (offer/answer state machine over canned SDP from
 *   ./sdp.ts), as SIP.js's own tests do.
 * - Every SIP message sent/received is recorded (`ua.wire`) by wrapping the transport's
 *   send()/onMessage; SIP.js warnings/errors (e.g. "dropping response") are kept in `ua.logs`.
 *
 * Every wait is bounded and its error message includes the events and the SIP trace.
 * Set SIPJS_DEBUG=1 to print SIP.js's log, TRACE_SIP=1 to print the SIP messages.
 */
import type {
  Invitation,
  Inviter,
  Registerer,
  Session,
  SessionDescriptionHandler,
  SessionDescriptionHandlerFactory,
  UserAgent,
  UserAgentOptions,
} from 'sip.js';
import {
  DEFAULT_TIMEOUT_MS,
  Latches,
  formatWire,
  installWebRtcGlobals,
  rawHeader,
  startLine,
  withTimeout,
  type ServerLike,
  type WireEntry,
} from './jssip';
import { looksLikeSdp, makeAnswer, makeOffer } from './sdp';

export { DEFAULT_TIMEOUT_MS, sleep, waitUntil, withTimeout } from './jssip';

type SipJsModule = typeof import('sip.js');
let sipModule: Promise<SipJsModule> | undefined;

/** The SIP.js module (loaded once). */
export function loadSipJs(): Promise<SipJsModule> {
  sipModule ??= import('sip.js');
  return sipModule;
}

// ---------------------------------------------------------------------------------------------
// Mock SessionDescriptionHandler
// ---------------------------------------------------------------------------------------------

type SdhState = 'stable' | 'has-local-offer' | 'has-remote-offer' | 'closed';

/**
 * Signalling-only SDH: stable → has-local-offer → stable (we offer), stable → has-remote-offer →
 * stable (we answer). getDescription() returns the offer or answer depending on the state.
 */
export class MockSessionDescriptionHandler implements SessionDescriptionHandler {
  state: SdhState = 'stable';
  localSdp?: string;
  remoteSdp?: string;
  readonly history: string[] = [];
  private readonly sessionId = String(Math.floor(Math.random() * 2 ** 40));
  private version = 1;

  async getDescription(): Promise<{ body: string; contentType: string }> {
    switch (this.state) {
      case 'stable':
        this.localSdp = makeOffer({ sessionId: this.sessionId, version: ++this.version });
        this.state = 'has-local-offer';
        this.history.push('local-offer');
        break;
      case 'has-remote-offer':
        this.localSdp = makeAnswer({ sessionId: this.sessionId, version: ++this.version });
        this.state = 'stable';
        this.history.push('local-answer');
        break;
      case 'has-local-offer':
        // Asked again for the offer we already made (e.g. a retried INVITE after 401/407).
        this.history.push('local-offer-again');
        break;
      case 'closed':
        throw new Error('SDH closed');
    }
    return { body: this.localSdp!, contentType: 'application/sdp' };
  }

  async setDescription(sdp: string): Promise<void> {
    if (!looksLikeSdp(sdp)) throw new Error('MockSDH.setDescription: not SDP');
    switch (this.state) {
      case 'stable':
        this.remoteSdp = sdp;
        this.state = 'has-remote-offer';
        this.history.push('remote-offer');
        return;
      case 'has-local-offer':
        this.remoteSdp = sdp;
        this.state = 'stable';
        this.history.push('remote-answer');
        return;
      case 'has-remote-offer':
        // A replacement offer (e.g. the INVITE retried): take the newest.
        this.remoteSdp = sdp;
        this.history.push('remote-offer-again');
        return;
      case 'closed':
        throw new Error('SDH closed');
    }
  }

  hasDescription(contentType: string): boolean {
    return contentType === 'application/sdp';
  }

  async rollbackDescription(): Promise<void> {
    if (this.state !== 'closed') this.state = 'stable';
    this.history.push('rollback');
  }

  sendDtmf(): boolean {
    return true;
  }

  close(): void {
    this.state = 'closed';
    this.history.push('close');
  }
}

export const mockSdhFactory: SessionDescriptionHandlerFactory = () => new MockSessionDescriptionHandler();

// ---------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------

export interface SipJsEndInfo {
  /** Final SessionState reached ('Terminated'). */
  state: string;
  /** Caller: the final non-2xx response to the INVITE, if any. */
  statusCode?: number;
  reasonPhrase?: string;
  /** Callee: the CANCEL that ended the session, if any. */
  canceled: boolean;
  cancelReason?: string;
  /** A BYE was received. */
  byeReceived: boolean;
}

export interface SipJsSessionEvent {
  at: number;
  event: string;
  statusCode?: number;
}

export class SipJsSession {
  readonly events: SipJsSessionEvent[] = [];
  readonly latches = new Latches();
  /** Status codes of the responses to our INVITE (caller side), in order. */
  readonly responses: number[] = [];
  finalStatus?: { code: number; phrase: string };
  cancelReason?: string;
  canceled = false;
  byeReceived = false;

  constructor(
    readonly owner: SipJsUa,
    readonly session: Inviter | Invitation,
    readonly direction: 'incoming' | 'outgoing',
    private readonly timeoutMs: number,
  ) {
    session.stateChange.addListener((state) => {
      this.rec(`state:${state}`);
      this.latches.fire(String(state), true);
      if (String(state) === 'Terminated') this.latches.fire('finished', this.endInfo());
    });
    session.delegate = {
      onAck: () => {
        this.rec('ack');
        this.latches.fire('ack');
      },
      onBye: (bye) => {
        this.byeReceived = true;
        this.rec('bye-received');
        this.latches.fire('bye');
        void bye.accept().catch(() => undefined);
      },
      onCancel: (cancel) => {
        this.canceled = true;
        this.cancelReason = cancel.request.getHeader('Reason') ?? undefined;
        this.rec('cancel-received');
        this.latches.fire('cancel', cancel.request);
      },
    };
  }

  rec(event: string, statusCode?: number): void {
    this.events.push({ at: Date.now(), event, statusCode });
  }

  /** Called by SipJsUa.call() with the INVITE's response delegate events. */
  onResponse(kind: string, code: number, phrase: string): void {
    this.responses.push(code);
    this.rec(kind, code);
    if (code >= 300) this.finalStatus = { code, phrase };
    if (code > 100 && code < 200) this.latches.fire('progress', code);
    if (code >= 200 && code < 300) this.latches.fire('accepted', code);
    if (code >= 300) this.latches.fire('rejected', code);
  }

  get state(): string {
    return String(this.session.state);
  }

  get callId(): string {
    return this.session.request.callId;
  }

  get sdh(): MockSessionDescriptionHandler | undefined {
    return this.session.sessionDescriptionHandler as MockSessionDescriptionHandler | undefined;
  }

  endInfo(): SipJsEndInfo {
    return {
      state: this.state,
      statusCode: this.finalStatus?.code,
      reasonPhrase: this.finalStatus?.phrase,
      canceled: this.canceled,
      cancelReason: this.cancelReason,
      byeReceived: this.byeReceived,
    };
  }

  wire(): WireEntry[] {
    const cid = this.callId;
    return this.owner.wire.filter((w) => rawHeader(w.text, 'Call-ID', 'i') === cid);
  }

  describe(): string {
    const ev = this.events.map((e) => `${e.event}${e.statusCode ? ` ${e.statusCode}` : ''}`).join(', ');
    return `  ${this.owner.label} ${this.direction} session events: [${ev}]\n${formatWire(this.wire())}${this.owner.describeLogs()}`;
  }

  private w<T>(name: string, what: string, ms?: number): Promise<T> {
    return this.latches.wait<T>(name, ms ?? this.timeoutMs, `${this.owner.label}: ${what}`, () => this.describe());
  }

  /** Caller: the first 1xx > 100; resolves with its code. */
  progress(ms?: number): Promise<number> {
    return this.w('progress', 'a provisional response', ms);
  }
  /** Session reached Established (caller: 2xx received and ACK sent; callee: 2xx sent). */
  established(ms?: number): Promise<void> {
    return this.w('Established', 'session Established', ms);
  }
  /** Callee: the ACK for our 2xx arrived. */
  ackReceived(ms?: number): Promise<void> {
    return this.w('ack', 'ACK received', ms);
  }
  /** Callee: a CANCEL arrived; resolves with its Reason header (or undefined). */
  async cancelReceived(ms?: number): Promise<string | undefined> {
    await this.w('cancel', 'CANCEL received', ms);
    return this.cancelReason;
  }
  /** A BYE arrived. */
  byeReceivedP(ms?: number): Promise<void> {
    return this.w('bye', 'BYE received', ms);
  }
  /** Caller: final non-2xx response; resolves with its status code. */
  rejected(ms?: number): Promise<number> {
    return this.w('rejected', 'a final error response', ms);
  }
  /** Session reached Terminated. */
  async terminated(ms?: number): Promise<SipJsEndInfo> {
    await this.w('finished', 'session Terminated', ms);
    // SIP.js moves to Terminated before the request delegate sees the final response: let it run.
    await new Promise((r) => setImmediate(r));
    return this.endInfo();
  }

  /** Callee: accept (200 OK with an SDP answer). Resolves when Established. */
  async answer(): Promise<void> {
    if (this.direction !== 'incoming') throw new Error('answer() on an outgoing session');
    await (this.session as Invitation).accept();
    await this.established();
  }

  /** Callee: reject with a final response (default 486). */
  async reject(statusCode = 486): Promise<void> {
    if (this.direction !== 'incoming') throw new Error('reject() on an outgoing session');
    await (this.session as Invitation).reject({ statusCode });
  }

  /** Caller: CANCEL (while ringing). */
  async cancel(): Promise<void> {
    if (this.direction !== 'outgoing') throw new Error('cancel() on an incoming session');
    await (this.session as Inviter).cancel();
  }

  /** Established session: send BYE and wait for Terminated. */
  async bye(): Promise<SipJsEndInfo> {
    await this.session.bye();
    return this.terminated();
  }

  /** Whatever ends the session in its current state (cancel / reject / bye). */
  async hangup(): Promise<void> {
    const st = this.state;
    if (st === 'Established') await this.session.bye();
    else if (st === 'Initial' || st === 'Establishing') {
      if (this.direction === 'outgoing') await (this.session as Inviter).cancel();
      else await (this.session as Invitation).reject();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// User agent
// ---------------------------------------------------------------------------------------------

export interface SipJsUaOptions {
  server: ServerLike;
  username: string;
  password: string;
  /** Register on start (default true). */
  register?: boolean;
  /** Registerer expires (SIP.js default 600). */
  expires?: number;
  /** Registerer refreshFrequency, 50..99 % of expires (SIP.js default 99). */
  refreshFrequency?: number;
  /** UA instanceId (UUID) and Registerer regId: SIP.js sends +sip.instance/reg-id only if regId is set. */
  instanceId?: string;
  regId?: number;
  timeoutMs?: number;
  label?: string;
  /** Extra UserAgentOptions. */
  uaOptions?: Partial<UserAgentOptions>;
}

export interface SipJsUaEvent {
  at: number;
  event: string;
  statusCode?: number;
}

const liveUas = new Set<SipJsUa>();

export class SipJsUa {
  readonly events: SipJsUaEvent[] = [];
  readonly latches = new Latches();
  readonly wire: WireEntry[] = [];
  readonly logs: string[] = [];
  readonly sessions: SipJsSession[] = [];
  readonly label: string;
  readonly uri: string;
  readonly timeoutMs: number;
  ua!: UserAgent;
  registerer?: Registerer;
  private incomingTaken = 0;
  private stopped = false;
  private killed = false;

  constructor(
    private readonly sip: SipJsModule,
    readonly opts: SipJsUaOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.label = opts.label ?? `sipjs:${opts.username}`;
    this.uri = `sip:${opts.username}@${opts.server.domain}`;
    const debug = !!process.env.SIPJS_DEBUG;
    const uri = sip.UserAgent.makeURI(this.uri);
    if (!uri) throw new Error(`bad URI ${this.uri}`);
    const options: UserAgentOptions = {
      uri,
      transportOptions: { server: opts.server.wsUrl, traceSip: false },
      authorizationUsername: opts.username,
      authorizationPassword: opts.password,
      sessionDescriptionHandlerFactory: mockSdhFactory,
      logBuiltinEnabled: debug,
      logLevel: debug ? 'debug' : 'warn',
      logConfiguration: false,
      logConnector: (level, category, _label, content) => {
        if (level === 'warn' || level === 'error') this.logs.push(`${level} ${category}: ${content}`);
      },
      userAgentString: 'SIP.js/0.21 (wac-ts e2e)',
      delegate: {
        onConnect: () => {
          this.rec('connected');
          this.latches.fire('connected');
        },
        onDisconnect: (error?: Error) => {
          this.rec(`disconnected${error ? `: ${error.message}` : ''}`);
          this.latches.fire('disconnected', error);
        },
        onInvite: (invitation: Invitation) => {
          const s = new SipJsSession(this, invitation, 'incoming', this.timeoutMs);
          this.sessions.push(s);
          this.rec('incoming');
          this.latches.fire('incoming', s);
        },
      },
      ...opts.uaOptions,
    };
    if (opts.instanceId) options.instanceId = opts.instanceId;
    this.ua = new sip.UserAgent(options);
    this.traceTransport();
    liveUas.add(this);
  }

  private traceTransport(): void {
    const transport = this.ua.transport as any;
    const origSend = transport.send.bind(transport);
    transport.send = (message: string) => {
      this.trace('out', message);
      return origSend(message);
    };
    const origOnMessage = transport.onMessage;
    transport.onMessage = (message: string) => {
      this.trace('in', message);
      origOnMessage?.(message);
    };
  }

  private trace(dir: 'in' | 'out', text: string): void {
    if (text === '\r\n' || text === '\r\n\r\n') return;
    this.wire.push({ dir, at: Date.now(), text });
    if (process.env.TRACE_SIP) process.stdout.write(`\n[${this.label}] ${dir === 'in' ? '<<<' : '>>>'}\n${text}\n`);
  }

  rec(event: string, statusCode?: number): void {
    this.events.push({ at: Date.now(), event, statusCode });
  }

  describeLogs(): string {
    return this.logs.length ? `\n  ${this.label} SIP.js warnings:\n${this.logs.slice(-10).map((l) => `    ${l.split('\n')[0]}`).join('\n')}` : '';
  }

  describe(): string {
    const ev = this.events.map((e) => `${e.event}${e.statusCode ? ` ${e.statusCode}` : ''}`).join(', ');
    return `  ${this.label} events: [${ev}]\n${formatWire(this.wire)}${this.describeLogs()}`;
  }

  private w<T>(name: string, what: string, ms?: number, index = 0): Promise<T> {
    return this.latches.wait<T>(name, ms ?? this.timeoutMs, `${this.label}: ${what}`, () => this.describe(), index);
  }

  async start(): Promise<void> {
    await this.ua.start();
    this.rec('started');
  }

  /** Create the Registerer and send the initial REGISTER (does not wait for the answer). */
  register(): void {
    if (!this.registerer) {
      const regOpts: Record<string, unknown> = {};
      if (this.opts.expires !== undefined) regOpts.expires = this.opts.expires;
      if (this.opts.refreshFrequency !== undefined) regOpts.refreshFrequency = this.opts.refreshFrequency;
      if (this.opts.regId !== undefined) regOpts.regId = this.opts.regId;
      this.registerer = new this.sip.Registerer(this.ua, regOpts);
      this.registerer.stateChange.addListener((state) => {
        this.rec(`registerer:${state}`);
        this.latches.fire(`registerer:${state}`, true);
      });
    }
    this.registerer
      .register({
        requestDelegate: {
          onAccept: (r) => {
            this.rec('register-accepted', r.message.statusCode);
          },
          onReject: (r) => {
            const code = r.message.statusCode ?? 0;
            this.rec('register-rejected', code);
            this.latches.fire('registrationFailed', { statusCode: code, reasonPhrase: r.message.reasonPhrase });
          },
        },
      })
      .catch((err: Error) => {
        this.rec(`register-error: ${err.message}`);
        this.latches.fire('registrationFailed', { statusCode: 0, reasonPhrase: err.message });
      });
  }

  /** Resolves once the Registerer is Registered; rejects if the REGISTER is rejected first. */
  async registered(ms?: number): Promise<void> {
    if (this.registerer && String(this.registerer.state) === 'Registered') return;
    const r = await this.latches.waitAny<any>(['registerer:Registered', 'registrationFailed'], ms ?? this.timeoutMs, `${this.label}: registered`, () => this.describe());
    if (r.name === 'registrationFailed') {
      throw new Error(`${this.label}: registration failed: ${r.value.statusCode} ${r.value.reasonPhrase}`);
    }
  }

  /** Resolves with the status code of the rejected REGISTER (rejects if registration succeeds). */
  async registrationFailed(ms?: number): Promise<{ statusCode: number; reasonPhrase: string }> {
    const r = await this.latches.waitAny<any>(['registrationFailed', 'registerer:Registered'], ms ?? this.timeoutMs, `${this.label}: registration failure`, () => this.describe());
    if (r.name !== 'registrationFailed') throw new Error(`${this.label}: expected registration to fail, but it succeeded`);
    return r.value;
  }

  isRegistered(): boolean {
    return !!this.registerer && String(this.registerer.state) === 'Registered';
  }

  /** 200 OKs to REGISTER received so far (initial + refreshes + unregister). */
  registerOkCount(): number {
    return this.wire.filter((w) => w.dir === 'in' && /^SIP\/2\.0 2\d\d/.test(startLine(w.text)) && /REGISTER/i.test(rawHeader(w.text, 'CSeq') ?? '')).length;
  }

  /** Send an un-REGISTER and wait for the Registerer to be Unregistered. */
  async unregister(ms?: number): Promise<void> {
    if (!this.registerer) throw new Error('not registered');
    const n = this.latches.count('registerer:Unregistered');
    await this.registerer.unregister();
    await this.w('registerer:Unregistered', 'Unregistered', ms, n);
  }

  /** Call `target` ('bob' or a SIP URI). The INVITE is sent asynchronously. */
  call(target: string): SipJsSession {
    const t = target.includes(':') || target.includes('@') ? target : `sip:${target}@${this.opts.server.domain}`;
    const uri = this.sip.UserAgent.makeURI(t.startsWith('sip') ? t : `sip:${t}`);
    if (!uri) throw new Error(`bad target ${t}`);
    const inviter = new this.sip.Inviter(this.ua, uri);
    const s = new SipJsSession(this, inviter, 'outgoing', this.timeoutMs);
    this.sessions.push(s);
    inviter
      .invite({
        requestDelegate: {
          onTrying: (r) => s.onResponse('trying', r.message.statusCode ?? 0, r.message.reasonPhrase ?? ''),
          onProgress: (r) => s.onResponse('progress', r.message.statusCode ?? 0, r.message.reasonPhrase ?? ''),
          onAccept: (r) => s.onResponse('accepted', r.message.statusCode ?? 0, r.message.reasonPhrase ?? ''),
          onRedirect: (r) => s.onResponse('redirected', r.message.statusCode ?? 0, r.message.reasonPhrase ?? ''),
          onReject: (r) => s.onResponse('rejected', r.message.statusCode ?? 0, r.message.reasonPhrase ?? ''),
        },
      })
      .catch((err: Error) => {
        s.rec(`invite-error: ${err.message}`);
        s.latches.fire('invite-error', err);
      });
    return s;
  }

  /** The next incoming session not yet returned. */
  async nextIncoming(ms?: number): Promise<SipJsSession> {
    const idx = this.incomingTaken++;
    try {
      return await this.w<SipJsSession>('incoming', `incoming call #${idx + 1}`, ms, idx);
    } catch (err) {
      this.incomingTaken--;
      throw err;
    }
  }

  /** Drop the WebSocket abruptly (TCP reset, no close frame, no unREGISTER). */
  kill(): void {
    this.killed = true;
    const ws = (this.ua.transport as any).ws as any;
    if (!ws) return;
    if (typeof ws.terminate === 'function') {
      if (typeof ws.on === 'function') ws.on('error', () => undefined);
      ws.terminate();
    } else ws.close();
  }

  /** Stop the UA (unREGISTER, end sessions, disconnect); bounded. */
  async stop(ms = 4000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    liveUas.delete(this);
    const ua = this.ua as any;
    if (this.killed || !this.ua.isConnected()) ua.options.gracefulShutdown = false;
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      this.ua.stop().then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
    ]);
    clearTimeout(timer);
    if (!done) {
      try {
        await this.ua.transport.dispose();
      } catch {
        /* ignore */
      }
    }
  }
}

/** Create a SIP.js UA, connect it and (unless register:false) wait until registered. */
export async function createSipJsUa(opts: SipJsUaOptions): Promise<SipJsUa> {
  installWebRtcGlobals();
  const sip = await loadSipJs();
  const ua = new SipJsUa(sip, opts);
  try {
    await withTimeout(ua.start(), ua.timeoutMs, `${ua.label}: WebSocket connect`, () => ua.describe());
    if (opts.register ?? true) {
      ua.register();
      await ua.registered();
    }
  } catch (err) {
    await ua.stop();
    throw err;
  }
  return ua;
}

/** Create and connect a SIP.js UA and send REGISTER without waiting for the outcome. */
export async function createSipJsUaNoWait(opts: SipJsUaOptions): Promise<SipJsUa> {
  installWebRtcGlobals();
  const sip = await loadSipJs();
  const ua = new SipJsUa(sip, opts);
  try {
    await withTimeout(ua.start(), ua.timeoutMs, `${ua.label}: WebSocket connect`, () => ua.describe());
  } catch (err) {
    await ua.stop();
    throw err;
  }
  if (opts.register ?? true) ua.register();
  return ua;
}

/** Stop every SIP.js UA created through this module that is still running (for afterEach). */
export async function stopAllSipJsUas(): Promise<void> {
  await Promise.all([...liveUas].map((u) => u.stop()));
}

export type { Session };
