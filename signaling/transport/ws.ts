/**
 * SIP over WebSocket (RFC 7118): the upgrade must offer the `sip` sub-protocol and the 101 echoes it;
 * one SIP message per WebSocket message, text or binary; CRLFCRLF keep-alives answered with CRLF;
 * dead sockets found by server pings and terminated.
 *
 * A connection is served, once upgraded, by one of two kinds (`[server] ws_io`):
 * - `native` (plain `ws` on Linux, when `npm ci` built `native/`): the socket's descriptor goes to
 *   `native/ws.cc`, which frames, unmasks and pings for every connection in one epoll set and hands
 *   JS whatever arrived on any of them in one call (`ws-native.ts`);
 * - `node`: the `ws` library on Node's socket; always for `wss`.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { NativeWs, NOT_BUILT, nativeAddon } from './addon';
import { Flow, FlowHandler } from './flow';
import { Inbox } from './inbox';
import { acceptUpgrade, descriptor, NativeWsHub } from './ws-native';

export type WsIo = 'auto' | 'native' | 'node';

const KEEPALIVE = '\r\n\r\n';
const PONG = Buffer.from('\r\n');

export interface WsOptions {
  maxPayload: number;
  pingIntervalMs: number;
  tls?: { cert: string; key: string };
  io?: WsIo;
}

export class WsTransport {
  readonly secure: boolean;
  private http: http.Server;
  private wss: WebSocketServer;
  private flows = new Map<string, WsFlow>();
  /** The native kind's addon when it serves; its hub opens with listen(), as the port does. */
  private readonly native: NativeWs | null;
  private readonly maxPayload: number;
  private hub: NativeWsHub | null = null;
  private warned = false;
  private pinger: NodeJS.Timeout;
  private nextId = 1;
  private inbox: Inbox;

  constructor(private readonly handler: FlowHandler, opts: WsOptions) {
    this.inbox = new Inbox(handler);
    this.secure = !!opts.tls;
    const io = opts.io ?? 'auto';
    if (io === 'native' && (this.secure || !nativeAddon())) {
      throw new Error(`ws_io = native: ${this.secure ? 'wss (TLS) is served by the ws library only' : NOT_BUILT}`);
    }
    this.native = io === 'node' || this.secure ? null : (nativeAddon()?.ws ?? null);
    this.maxPayload = opts.maxPayload;
    this.http = opts.tls
      ? https.createServer({ cert: fs.readFileSync(opts.tls.cert), key: fs.readFileSync(opts.tls.key) })
      : http.createServer();
    this.http.on('request', (_req, res) => {
      res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket' });
      res.end('SIP over WebSocket only: connect with sub-protocol "sip"\n');
    });
    this.wss = new WebSocketServer({
      noServer: true, maxPayload: opts.maxPayload, perMessageDeflate: false, clientTracking: false,
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    this.http.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.pinger = setInterval(() => this.ping(), opts.pingIntervalMs);
    this.pinger.unref();
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim().toLowerCase());
    if (!offered.includes('sip')) {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nSub-protocol "sip" required\n');
      return;
    }
    const fd = this.hub && socket instanceof net.Socket ? descriptor(socket) : -1;
    if (this.hub && fd < 0 && !this.warned) {
      // Node no longer exposes the descriptor: connections go to the ws library instead.
      process.emitWarning('ws_io: Node gives no socket descriptor; WebSocket served by the ws library');
      this.warned = true;
    }
    if (this.hub && fd >= 0) {
      const response = acceptUpgrade(req, socket as net.Socket);
      if (response) this.hub.adopt(`w${this.nextId++}`, socket as net.Socket, fd, response, head);
      return;
    }
    socket.on('error', () => socket.destroy());
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
  }

  /** Which kind serves plain `ws` connections. */
  get kind(): 'native' | 'node' {
    return this.native ? 'native' : 'node';
  }

  private received(data: Buffer, flow: Flow): void {
    if (data.length <= 4 && data.every((b) => b === 0x0d || b === 0x0a)) {
      if (data.toString('latin1') === KEEPALIVE) flow.send(PONG);
      return;
    }
    this.inbox.push(data, flow);
  }

  private accept(ws: WebSocket, req: http.IncomingMessage): void {
    const flow = new WsFlow(`w${this.nextId++}`, this.secure ? 'WSS' : 'WS', ws, req.socket.remoteAddress ?? '', req.socket.remotePort ?? 0);
    this.flows.set(flow.id, flow);
    ws.on('pong', () => {
      flow.alive = true;
    });
    ws.on('message', (data: Buffer) => {
      flow.alive = true;
      this.received(data, flow);
    });
    ws.on('error', onError);
    ws.on('close', () => {
      this.flows.delete(flow.id);
      this.handler.onFlowClosed(flow);
    });
  }

  private ping(): void {
    this.hub?.sweep();
    for (const flow of this.flows.values()) {
      if (!flow.alive) {
        flow.ws.terminate();
        continue;
      }
      flow.alive = false;
      flow.ws.ping();
    }
  }

  listen(port: number, address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, address, () => {
        this.http.off('error', reject);
        if (this.native) this.hub = new NativeWsHub(this.native, this.maxPayload, (data, flow) => this.received(data, flow), (flow) => this.handler.onFlowClosed(flow));
        resolve((this.http.address() as import('node:net').AddressInfo).port);
      });
    });
  }

  get(id: string): Flow | undefined {
    return this.flows.get(id) ?? this.hub?.get(id);
  }

  close(): Promise<void> {
    clearInterval(this.pinger);
    this.inbox.close();
    this.hub?.close();
    for (const flow of this.flows.values()) flow.ws.terminate();
    return new Promise((resolve) => this.http.close(() => resolve()));
  }
}

/**
 * One per connection, and a server holds tens of thousands idle: state lives in fields and methods on
 * the prototype.
 */
class WsFlow implements Flow {
  readonly reliable = true;
  /** Heard from since the last ping. */
  alive = true;

  constructor(
    readonly id: string,
    readonly transport: 'WS' | 'WSS',
    readonly ws: WebSocket,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {}

  send(data: Buffer): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    // JsSIP decodes binary frames as latin1, so anything that is valid UTF-8 goes as text.
    this.ws.send(data, { binary: !isUtf8(data) });
    return true;
  }

  isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }
}

function onError(this: WebSocket): void {
  this.terminate();
}
