/**
 * One registered JsSIP user agent with at most one call at a time, reduced to a small view state
 * the page renders. Everything JsSIP-specific stays here; the DOM is ui.ts's business.
 */
import { UA, WebSocketInterface, version as jssipVersion } from 'jssip';
import type { EndEvent, RTCSession } from 'jssip/lib/RTCSession';
import type { RTCSessionEvent } from 'jssip/lib/UA';
import { IceDeadline, keepLoopbackCandidates, playRemoteAudio, stopRemoteAudio } from './media';

export type RegState = 'connecting' | 'registering' | 'registered' | 'unregistered' | 'failed' | 'disconnected' | 'stopped';
export type CallState = 'idle' | 'calling' | 'ringing' | 'incoming' | 'answering' | 'in-call';

export interface LastCall {
  text: string;
  /** JsSIP's cause ('Busy', 'Canceled', 'Terminated', ...) or 'elsewhere' for a call answered on another device. */
  cause: string;
}

export interface PhoneView {
  reg: RegState;
  regDetail: string;
  /** True once a REGISTER succeeded, so a later failure is not taken for wrong credentials. */
  everRegistered: boolean;
  call: CallState;
  peer: string;
  lastCall?: LastCall;
}

export interface PhoneOptions {
  wsUrl: string;
  /** sip:user@domain */
  uri: string;
  password?: string;
  /** An access token: sent as `Authorization: Bearer <token>` on every request instead of digest. */
  token?: string;
  /** Offer and answer only 127.0.0.1 candidates (see media.ts). */
  loopback: boolean;
  audio: HTMLAudioElement;
  onChange(view: PhoneView): void;
  onLog(line: string): void;
}

/** How long JsSIP may gather ICE candidates after the first one before the SDP goes out. */
const ICE_GATHERING_MS = 1500;

const COMPLETED_ELSEWHERE = /cause=200\b/;

export class Phone {
  readonly ua: UA;
  session: RTCSession | undefined;
  private readonly view: PhoneView = { reg: 'connecting', regDetail: '', everRegistered: false, call: 'idle', peer: '' };
  private stopped = false;

  constructor(private readonly opts: PhoneOptions) {
    this.ua = new UA({
      sockets: [new WebSocketInterface(opts.wsUrl)],
      uri: opts.uri,
      ...(opts.token ? { authorization_jwt: `Bearer ${opts.token}` } : { password: opts.password }),
      register: true,
      user_agent: `wac-ts phone (JsSIP ${jssipVersion})`,
    });
    this.ua.on('connecting', () => this.setReg('connecting', ''));
    this.ua.on('connected', () => this.setReg(this.ua.isRegistered() ? 'registered' : 'registering', ''));
    this.ua.on('disconnected', (e) => this.setReg('disconnected', e.reason ?? ''));
    this.ua.on('registered', () => {
      this.view.everRegistered = true;
      this.setReg('registered', '');
    });
    this.ua.on('unregistered', () => this.setReg('unregistered', ''));
    this.ua.on('registrationFailed', (e) => {
      const r = e.response;
      this.setReg('failed', r ? `${e.cause ?? ''} (${r.status_code} ${r.reason_phrase})`.trim() : String(e.cause ?? ''));
    });
    this.ua.on('newRTCSession', (e: RTCSessionEvent) => this.onNewSession(e));
  }

  get state(): Readonly<PhoneView> {
    return this.view;
  }

  get connection(): RTCPeerConnection | undefined {
    return this.session?.connection;
  }

  start(): void {
    this.ua.start();
    this.emit();
  }

  /** Un-REGISTERs, ends any call and closes the socket. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.ua.stop();
    this.view.reg = 'stopped';
    this.emit();
  }

  /** `target`: a username, a group id, a number, or a full SIP URI; JsSIP completes the domain. */
  call(target: string): void {
    if (this.session) throw new Error('already in a call');
    const t = target.trim();
    if (!t) throw new Error('nothing to call');
    this.ua.call(t, {
      mediaConstraints: { audio: true, video: false },
      pcConfig: this.opts.loopback ? { iceServers: [] } : undefined,
    });
  }

  answer(): void {
    if (!this.session || this.view.call !== 'incoming') return;
    this.session.answer({
      mediaConstraints: { audio: true, video: false },
      pcConfig: this.opts.loopback ? { iceServers: [] } : undefined,
    });
    this.setCall('answering');
  }

  /** 486 Busy Here: the caller's other targets (other devices, group members) may still answer. */
  reject(): void {
    if (this.session && this.view.call === 'incoming') this.session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
  }

  /** CANCEL while ringing out, BYE once connected. */
  hangup(): void {
    if (this.session && !this.session.isEnded()) this.session.terminate();
  }

  private onNewSession(e: RTCSessionEvent): void {
    const s = e.session;
    if (this.session) {
      this.log(`busy: refused a call from ${s.remote_identity.uri.toString()}`);
      s.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
      return;
    }
    this.session = s;
    const incoming = (e.originator as string) === 'remote';
    this.view.peer = peerName(s);
    this.log(`${incoming ? 'incoming call from' : 'calling'} ${s.remote_identity.uri.toString()}`);

    const ice = new IceDeadline(ICE_GATHERING_MS, this.opts.loopback);
    s.on('icecandidate', (ev) => ice.onCandidate(ev.candidate, ev.ready));
    s.on('sdp', (ev) => {
      if (this.opts.loopback && (ev.originator as string) === 'local') ev.sdp = keepLoopbackCandidates(ev.sdp);
    });
    // An outgoing session has its connection already; an incoming one gets it on answer.
    if (s.connection) playRemoteAudio(s.connection, this.opts.audio);
    s.on('peerconnection', (ev) => playRemoteAudio(ev.peerconnection, this.opts.audio));
    s.on('progress', () => {
      if (!incoming) this.setCall('ringing');
    });
    s.on('accepted', () => this.setCall('in-call'));
    s.on('confirmed', () => this.setCall('in-call'));
    s.on('getusermediafailed', (err) => this.log(`microphone unavailable: ${String(err)}`));
    s.on('ended', (ev) => this.finish(s, ev, incoming, 'ended'));
    s.on('failed', (ev) => this.finish(s, ev, incoming, 'failed'));
    this.setCall(incoming ? 'incoming' : 'calling');
  }

  private finish(s: RTCSession, ev: EndEvent, incoming: boolean, how: 'ended' | 'failed'): void {
    if (this.session !== s) return;
    const peer = this.view.peer;
    this.session = undefined;
    stopRemoteAudio(this.opts.audio);
    this.view.lastCall = describeEnd(ev, incoming, how, peer);
    this.log(this.view.lastCall.text);
    this.view.peer = '';
    this.setCall('idle');
  }

  private setReg(reg: RegState, detail: string): void {
    if (this.stopped) return;
    this.view.reg = reg;
    this.view.regDetail = detail;
    this.log(`registration: ${reg}${detail ? ` ${detail}` : ''}`);
    this.emit();
  }

  private setCall(call: CallState): void {
    if (this.view.call === call) return;
    this.view.call = call;
    if (call !== 'idle') this.log(`call: ${call}`);
    this.emit();
  }

  private emit(): void {
    this.opts.onChange({ ...this.view });
  }

  private log(line: string): void {
    this.opts.onLog(line);
  }
}

function peerName(s: RTCSession): string {
  const id = s.remote_identity;
  const user = id.uri.user ?? id.uri.toString();
  return id.display_name ? `${id.display_name} <${user}>` : user;
}

/** A line for the user about how a call ended, with a machine-readable cause for tests. */
export function describeEnd(ev: EndEvent, incoming: boolean, how: 'ended' | 'failed', peer: string): LastCall {
  const by = (ev.originator as string) === 'local' ? 'you' : peer;
  if (how === 'ended') return { text: `Call with ${peer} ended by ${by}`, cause: ev.cause };
  const msg = ev.message as { method?: string; status_code?: number; reason_phrase?: string; getHeader?(n: string): string } | undefined;
  if (incoming && ev.cause === 'Canceled' && (ev.originator as string) === 'remote') {
    const reason = msg?.getHeader?.('Reason') ?? '';
    if (COMPLETED_ELSEWHERE.test(reason)) return { text: `Call from ${peer} answered elsewhere`, cause: 'elsewhere' };
    return { text: `Missed call from ${peer}`, cause: ev.cause };
  }
  if (incoming && (ev.originator as string) === 'local') return { text: `Rejected call from ${peer}`, cause: ev.cause };
  if (!incoming && (ev.originator as string) === 'local') return { text: `Call to ${peer} cancelled`, cause: ev.cause };
  const status = msg?.status_code ? ` (${[msg.status_code, msg.reason_phrase].filter(Boolean).join(' ')})` : '';
  return { text: `Call ${incoming ? 'from' : 'to'} ${peer} failed: ${ev.cause}${status}`, cause: ev.cause };
}
