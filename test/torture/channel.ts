/** A client-side SIP "channel" over WebSocket (sub-protocol sip) or UDP that records what it receives. */
import dgram from 'node:dgram';
import WebSocket from 'ws';
import { LiteMessage, Local, parseLite } from './sip-lite';

export interface Received {
  data: Buffer;
  msg: LiteMessage;
  at: number;
}

export abstract class Channel {
  readonly received: Received[] = [];
  private waiters: Array<() => void> = [];
  abstract readonly local: Local;
  abstract send(data: Buffer | string): void;
  abstract close(): Promise<void>;

  protected push(data: Buffer): void {
    this.received.push({ data, msg: parseLite(data), at: Date.now() });
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves with the first received message (from index `since` on) that satisfies `pred`, or null after `ms`. */
  async waitFor(pred: (m: LiteMessage) => boolean, ms: number, since = 0): Promise<LiteMessage | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.received.slice(since).find((r) => pred(r.msg));
      if (hit) return hit.msg;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

export class WsChannel extends Channel {
  readonly local: Local;
  closeCode: number | null = null;
  private closed: Promise<void>;

  private constructor(readonly ws: WebSocket) {
    super();
    this.local = { transport: 'WS', host: `${Math.random().toString(36).slice(2, 10)}.invalid`, port: 9 };
    ws.on('message', (data: WebSocket.RawData) => {
      this.push(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer));
    });
    this.closed = new Promise((resolve) => ws.once('close', (code) => {
      this.closeCode = code;
      resolve();
    }));
  }

  static open(url: string, protocols: string | string[] = 'sip'): Promise<WsChannel> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols, { perMessageDeflate: false });
      const ch = new WsChannel(ws);
      ws.once('open', () => resolve(ch));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Binary frame for a Buffer, text frame for a string. */
  send(data: Buffer | string): void {
    this.ws.send(data, { binary: typeof data !== 'string' });
  }

  /** Resolves true when the connection closes within `ms`. */
  async waitClosed(ms: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    else this.ws.terminate();
    if (!(await this.waitClosed(1000))) {
      this.ws.terminate();
      await this.closed;
    }
  }
}

export class UdpChannel extends Channel {
  local!: Local;
  private constructor(private readonly socket: dgram.Socket, private readonly server: { host: string; port: number }) {
    super();
    socket.on('message', (data) => this.push(data));
  }

  static open(serverPort: number, serverHost = '127.0.0.1'): Promise<UdpChannel> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket('udp4');
      const ch = new UdpChannel(socket, { host: serverHost, port: serverPort });
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        // Sending to a closed port can raise ICMP errors on the socket: never fatal for a test.
        socket.on('error', () => undefined);
        ch.local = { transport: 'UDP', host: '127.0.0.1', port: socket.address().port };
        resolve(ch);
      });
    });
  }

  send(data: Buffer | string): void {
    this.socket.send(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, this.server.port, this.server.host);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
