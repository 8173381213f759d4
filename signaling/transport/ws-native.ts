/**
 * Plain WebSocket connections served by the native addon (`native/ws.cc`) once upgraded: the upgrade
 * is answered here, with the checks of the `ws` library's handshake, and the socket's descriptor is
 * handed over. What arrives on every connection comes back in one call per wake-up; what JS sends in
 * one callback is written once it returns, one write per connection.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { NativeWs } from './addon';
import { Flow } from './flow';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const KEY = /^[+/0-9A-Za-z]{22}==$/;
const CLOSED = 1;

/** The socket's descriptor, or -1 where Node does not expose one. */
export function descriptor(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

/**
 * The 101 for a sound upgrade request (RFC 6455 §4.2.2) that offered `sip`; otherwise the request has
 * been answered with its error, as the `ws` library would, and null comes back.
 */
export function acceptUpgrade(req: http.IncomingMessage, socket: net.Socket): Buffer | null {
  const key = req.headers['sec-websocket-key'];
  const version = req.headers['sec-websocket-version'];
  if (req.method !== 'GET') return refuse(socket, 405, 'Invalid HTTP method');
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return refuse(socket, 400, 'Invalid Upgrade header');
  if (key === undefined || !KEY.test(key)) return refuse(socket, 400, 'Missing or invalid Sec-WebSocket-Key header');
  if (version !== '13' && version !== '8') {
    return refuse(socket, 400, 'Missing or invalid Sec-WebSocket-Version header', 'Sec-WebSocket-Version: 13, 8\r\n');
  }
  // The client already sent its FIN: nothing to serve.
  if (!socket.readable || !socket.writable) {
    socket.destroy();
    return null;
  }
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  return Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    + `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: sip\r\n\r\n`, 'latin1');
}

function refuse(socket: net.Socket, status: number, message: string, extra = ''): null {
  socket.once('finish', () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/html\r\n`
    + `Content-Length: ${Buffer.byteLength(message)}\r\n${extra}\r\n${message}`);
  return null;
}

export class NativeWsHub {
  private handle: object | null;
  private flows = new Map<number, NativeWsFlow>();
  private flushing = false;

  constructor(
    private readonly addon: NativeWs,
    maxPayload: number,
    private readonly onMessage: (data: Buffer, flow: Flow) => void,
    private readonly onClosed: (flow: Flow) => void,
  ) {
    this.handle = addon.open(maxPayload, this.events);
  }

  /**
   * Takes over the upgraded `socket` (descriptor `fd`) as flow `id` (`w<n>`); Node's own socket object
   * is then let go.
   */
  adopt(id: string, socket: net.Socket, fd: number, response: Buffer, head: Buffer): void {
    if (!this.handle) {
      socket.destroy();
      return;
    }
    const n = Number(id.slice(1));
    const flow = new NativeWsFlow(id, n, this, socket.remoteAddress ?? '', socket.remotePort ?? 0);
    this.flows.set(n, flow);
    try {
      this.addon.adopt(this.handle, n, fd, response, head);
    } catch {
      // Out of descriptors for the duplicate (the addon calls no JS here): the client sees the
      // connection close.
      this.flows.delete(n);
    }
    // Closes Node's descriptor only: the addon's duplicate keeps the connection, with no FIN sent.
    socket.destroy();
    // Writes the 101 and delivers whatever `head` held.
    this.addon.flush(this.handle);
  }

  /** (kind, connection, offset, length) records, then the payloads. */
  private events = (block: ArrayBuffer, count: number): void => {
    const meta = new Uint32Array(block, 0, 4 * count);
    let failure: { error: unknown } | null = null;
    for (let i = 0; i < 4 * count; i += 4) {
      const flow = this.flows.get(meta[i + 1]);
      if (!flow) continue;
      // A handler that throws must not cost the other records their turn (a closed flow left open).
      try {
        if (meta[i] === CLOSED) {
          this.flows.delete(flow.n);
          flow.open = false;
          this.onClosed(flow);
        } else this.onMessage(Buffer.from(block, meta[i + 2], meta[i + 3]), flow);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  };

  get(id: string): Flow | undefined {
    return this.flows.get(Number(id.slice(1)));
  }

  send(n: number, data: Buffer): boolean {
    if (!this.handle || !this.addon.send(this.handle, n, data)) return false;
    // What the current callback sends is written once it returns, one write per connection.
    if (!this.flushing) {
      this.flushing = true;
      queueMicrotask(this.flush);
    }
    return true;
  }

  private flush = (): void => {
    this.flushing = false;
    if (this.handle) this.addon.flush(this.handle);
  };

  /** Closes connections silent since the last sweep and pings the others. */
  sweep(): void {
    if (this.handle) this.addon.sweep(this.handle);
  }

  close(): void {
    if (!this.handle) return;
    this.addon.close(this.handle);
    this.handle = null;
    const flows = [...this.flows.values()];
    this.flows.clear();
    for (const flow of flows) {
      flow.open = false;
      this.onClosed(flow);
    }
  }
}

/** One per connection, and a server holds tens of thousands idle: fields, methods on the prototype. */
class NativeWsFlow implements Flow {
  readonly transport = 'WS' as const;
  readonly reliable = true;
  open = true;

  constructor(
    readonly id: string,
    readonly n: number,
    private readonly hub: NativeWsHub,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {}

  send(data: Buffer): boolean {
    return this.open && this.hub.send(this.n, data);
  }

  isOpen(): boolean {
    return this.open;
  }
}
