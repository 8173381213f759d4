/**
 * SIP over WebSocket (RFC 7118): the upgrade must offer the `sip` sub-protocol and the 101 echoes it;
 * one SIP message per WebSocket message, text or binary; CRLFCRLF keep-alives answered with CRLF;
 * dead sockets found by server pings and terminated.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { Flow, FlowHandler } from './flow';

const KEEPALIVE = '\r\n\r\n';
const PONG = Buffer.from('\r\n');

export interface WsOptions {
  maxPayload: number;
  pingIntervalMs: number;
  tls?: { cert: string; key: string };
}

export class WsTransport {
  readonly secure: boolean;
  private http: http.Server;
  private wss: WebSocketServer;
  private flows = new Map<string, Flow>();
  private alive = new WeakMap<WebSocket, boolean>();
  private pinger: NodeJS.Timeout;
  private nextId = 1;

  constructor(private readonly handler: FlowHandler, opts: WsOptions) {
    this.secure = !!opts.tls;
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
    socket.on('error', () => socket.destroy());
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
  }

  private accept(ws: WebSocket, req: http.IncomingMessage): void {
    const id = `w${this.nextId++}`;
    const flow: Flow = {
      id, transport: this.secure ? 'WSS' : 'WS', reliable: true,
      remoteAddress: req.socket.remoteAddress ?? '', remotePort: req.socket.remotePort ?? 0,
      send(data: Buffer) {
        if (ws.readyState !== WebSocket.OPEN) return false;
        // JsSIP decodes binary frames as latin1, so anything that is valid UTF-8 goes as text.
        ws.send(data, { binary: !isUtf8(data) });
        return true;
      },
      isOpen: () => ws.readyState === WebSocket.OPEN,
    };
    this.flows.set(id, flow);
    this.alive.set(ws, true);
    ws.on('pong', () => this.alive.set(ws, true));
    ws.on('message', (data: Buffer) => {
      this.alive.set(ws, true);
      if (data.length <= 4 && data.every((b) => b === 0x0d || b === 0x0a)) {
        if (data.toString('latin1') === KEEPALIVE) ws.send(PONG);
        return;
      }
      this.handler.onMessage(data, flow);
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      this.flows.delete(id);
      this.handler.onFlowClosed(flow);
    });
    this.sockets.add(ws);
    ws.once('close', () => this.sockets.delete(ws));
  }

  private sockets = new Set<WebSocket>();

  private ping(): void {
    for (const ws of this.sockets) {
      if (!this.alive.get(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.set(ws, false);
      ws.ping();
    }
  }

  listen(port: number, address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, address, () => {
        this.http.off('error', reject);
        resolve((this.http.address() as import('node:net').AddressInfo).port);
      });
    });
  }

  get(id: string): Flow | undefined {
    return this.flows.get(id);
  }

  close(): Promise<void> {
    clearInterval(this.pinger);
    for (const ws of this.sockets) ws.terminate();
    return new Promise((resolve) => this.http.close(() => resolve()));
  }
}
