/** The /phone page driven as a user would (clicks and typing), plus reads of its WebRTC state. */
import { expect } from 'chai';
import { attr, pollPage, text, waitForAttr, type Chromium, type LabeledPage } from './browser';
import type { TestServer } from './server';

/* eslint-disable @typescript-eslint/no-explicit-any */

export interface MediaState {
  connectionState: string;
  /** packetsReceived summed over the audio inbound-rtp streams. */
  packetsReceived: number;
  packetsSent: number;
  /** The candidates' addresses in the remote SDP. */
  remoteCandidates: string[];
  /** The page's <audio id="remote-audio">: live audio tracks it holds, and whether it plays. */
  speaker: { liveTracks: number; paused: boolean };
}

export class PhonePage {
  constructor(readonly lp: LabeledPage) {}

  /** Opens /phone/?loopback=1 on the test server's admin port. */
  static async open(browser: Chromium, srv: TestServer, label: string): Promise<PhonePage> {
    return new PhonePage(await browser.newPage(label, `${srv.adminUrl}/phone/?loopback=1`));
  }

  get label(): string {
    return this.lp.label;
  }

  /** Logs in with a password and waits until registered. */
  async login(username: string, password: string): Promise<void> {
    const p = this.lp.page;
    await p.fill('#login-username', username);
    await p.fill('#login-password', password);
    await p.click('#login-submit');
    await this.waitReg('registered');
  }

  /** Logs in with an access token and waits until registered. */
  async loginWithToken(token: string): Promise<void> {
    await this.lp.page.fill('#login-token', token);
    await this.lp.page.click('#login-token-submit');
    await this.waitReg('registered');
  }

  waitReg(state: string, ms = 10_000): Promise<void> {
    return waitForAttr(this.lp, '#reg-state', 'data-state', state, ms);
  }

  waitCall(state: string, ms = 10_000): Promise<void> {
    return waitForAttr(this.lp, '#call-state', 'data-state', state, ms);
  }

  async callState(): Promise<string | null | undefined> {
    return attr(this.lp, '#call-state', 'data-state');
  }

  async call(target: string): Promise<void> {
    await this.lp.page.fill('#target', target);
    await this.lp.page.click('#call');
  }

  /** Waits for an incoming call and returns what the page shows about the caller. */
  async incoming(ms = 10_000): Promise<string> {
    await this.waitCall('incoming', ms);
    expect(await this.lp.page.isVisible('#answer'), `${this.label}: Answer button`).to.equal(true);
    return text(this.lp, '#peer');
  }

  answer(): Promise<void> {
    return this.lp.page.click('#answer');
  }

  reject(): Promise<void> {
    return this.lp.page.click('#reject');
  }

  hangup(): Promise<void> {
    return this.lp.page.click('#hangup');
  }

  /** How the last call ended: the page's line and its cause (data-cause). */
  async lastCall(): Promise<{ text: string; cause: string }> {
    return { text: await text(this.lp, '#last-call'), cause: (await attr(this.lp, '#last-call', 'data-cause')) ?? '' };
  }

  /** The current call's RTCPeerConnection state and audio counters (null when there is no call). */
  media(): Promise<MediaState | null> {
    return this.lp.page.evaluate(async () => {
      const pc = (globalThis as any).phone?.connection as any;
      if (!pc) return null;
      let packetsReceived = 0;
      let packetsSent = 0;
      (await pc.getStats()).forEach((r: any) => {
        if (r.kind !== 'audio') return;
        if (r.type === 'inbound-rtp') packetsReceived += r.packetsReceived ?? 0;
        if (r.type === 'outbound-rtp') packetsSent += r.packetsSent ?? 0;
      });
      const sdp: string = pc.remoteDescription?.sdp ?? '';
      const remoteCandidates = sdp.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:')).map((l) => l.split(' ')[4]);
      const audio = (globalThis as any).document.getElementById('remote-audio');
      const tracks: any[] = audio.srcObject ? audio.srcObject.getAudioTracks() : [];
      const speaker = { liveTracks: tracks.filter((t) => t.readyState === 'live').length, paused: audio.paused as boolean };
      return { connectionState: pc.connectionState as string, packetsReceived, packetsSent, remoteCandidates, speaker };
    });
  }

  /** Waits until the peer connection is `connected` and audio packets have arrived; returns the state. */
  async audioFlowing(ms = 15_000): Promise<MediaState> {
    const m = await pollPage(this.lp, 'connected with inbound audio packets', () => this.media(),
      (v) => !!v && v.connectionState === 'connected' && v.packetsReceived > 0, ms);
    return m!;
  }
}
