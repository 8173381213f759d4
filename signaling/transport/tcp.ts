/** SIP over TCP: messages framed by Content-Length; CRLFCRLF keep-alives answered with CRLF. */
import net from 'node:net';
import { StreamFramer } from '../sip/parser';
import { Flow, FlowHandler } from './flow';
import { Inbox } from './inbox';

const PONG = Buffer.from('\r\n');

export class TcpTransport {
  private server: net.Server;
  private flows = new Map<string, Flow>();
  private sockets = new Set<net.Socket>();
  private nextId = 1;
  private inbox: Inbox;

  constructor(private readonly handler: FlowHandler, private readonly maxMessage: number) {
    this.inbox = new Inbox(handler);
    this.server = net.createServer((socket) => this.accept(socket));
  }

  listen(port: number, address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, address, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  /** An outbound connection to a peer that did not connect to us (e.g. a TCP contact). */
  connect(address: string, port: number): Flow {
    const key = `${address}:${port}`;
    for (const f of this.flows.values()) if (`${f.remoteAddress}:${f.remotePort}` === key && f.isOpen()) return f;
    return this.accept(net.connect(port, address), address, port);
  }

  private accept(socket: net.Socket, address?: string, port?: number): Flow {
    const id = `t${this.nextId++}`;
    const framer = new StreamFramer(this.maxMessage);
    let open = true;
    const flow: Flow = {
      id, transport: 'TCP', reliable: true,
      remoteAddress: address ?? socket.remoteAddress ?? '', remotePort: port ?? socket.remotePort ?? 0,
      send(data: Buffer) {
        if (!open) return false;
        socket.write(data);
        return true;
      },
      isOpen: () => open,
    };
    this.flows.set(id, flow);
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      const out = framer.push(chunk);
      if (out === 'error') {
        socket.destroy();
        return;
      }
      for (const m of out) {
        if (m === 'ping') socket.write(PONG);
        else this.inbox.push(m, flow);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      open = false;
      this.flows.delete(id);
      this.sockets.delete(socket);
      this.handler.onFlowClosed(flow);
    });
    return flow;
  }

  get(id: string): Flow | undefined {
    return this.flows.get(id);
  }

  close(): Promise<void> {
    this.inbox.close();
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
