/** A bare SIP peer on a loopback UDP socket, for tests that need exact control over each message. */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { answerChallenge } from '../../signaling/auth/digest';
import { SipMessage, SipRequest, SipResponse } from '../../signaling/sip/message';
import { parseMessage } from '../../signaling/sip/parser';

export class UdpPeer {
  readonly socket = dgram.createSocket('udp4');
  port = 0;
  private queue: SipMessage[] = [];
  private waiters: Array<(m: SipMessage) => void> = [];

  static async open(): Promise<UdpPeer> {
    const p = new UdpPeer();
    await new Promise<void>((r) => p.socket.bind(0, '127.0.0.1', () => r()));
    p.port = p.socket.address().port;
    p.socket.on('message', (data) => {
      const m = parseMessage(data);
      if (!m) return;
      const w = p.waiters.shift();
      if (w) w(m);
      else p.queue.push(m);
    });
    return p;
  }

  send(text: string, port: number): void {
    this.socket.send(Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8'), port, '127.0.0.1');
  }

  /** The next message received, or a rejection after `ms`. */
  next(ms = 2000): Promise<SipMessage> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`no SIP message within ${ms} ms`));
      }, ms);
      const w = (msg: SipMessage) => {
        clearTimeout(t);
        resolve(msg);
      };
      this.waiters.push(w);
    });
  }

  /** Next response, skipping 100 Trying. */
  async response(ms = 2000): Promise<SipResponse> {
    for (;;) {
      const m = await this.next(ms);
      if (m instanceof SipResponse && m.status !== 100) return m;
    }
  }

  async request(ms = 2000): Promise<SipRequest> {
    for (;;) {
      const m = await this.next(ms);
      if (m instanceof SipRequest) return m;
    }
  }

  close(): void {
    this.socket.close();
  }
}

export const rnd = (): string => randomBytes(5).toString('hex');

/** A digest Authorization value answering `challenge` for `method` on `uri`. */
export function digestAnswer(challenge: string, user: string, password: string, method: string, uri: string, nc = '00000001'): string {
  const value = answerChallenge(challenge, user, password, method, uri, nc);
  if (!value) throw new Error(`cannot answer challenge ${challenge}`);
  return value;
}
