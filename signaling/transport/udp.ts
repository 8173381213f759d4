/** SIP over UDP: one datagram, one message. */
import dgram from 'node:dgram';
import { Flow, FlowHandler, udpFlowId } from './flow';
import { Inbox } from './inbox';

const RECV_BUFFER = 4 * 1024 * 1024;
const SEND_BUFFER = 1024 * 1024;

export class UdpTransport {
  private socket: dgram.Socket;
  private inbox: Inbox;

  constructor(handler: FlowHandler) {
    this.inbox = new Inbox(handler);
    this.socket = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    this.socket.on('message', (data, rinfo) => this.inbox.push(data, this.received(rinfo.address, rinfo.port)));
    // A failed send (ICMP unreachable etc.) must never take the server down.
    this.socket.on('error', () => undefined);
  }

  listen(port: number, address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(port, address, () => {
        this.socket.off('error', reject);
        // One socket serves every UDP peer: a deep receive queue rides out a garbage-collection
        // pause instead of dropping datagrams (the kernel caps it at net.core.rmem_max).
        try {
          this.socket.setRecvBufferSize(RECV_BUFFER);
          this.socket.setSendBufferSize(SEND_BUFFER);
        } catch {
          // Keep the system default when the kernel refuses.
        }
        resolve(this.socket.address().port);
      });
    });
  }

  private closed = false;

  /** A flow per datagram is the norm, so it is a small immutable object with methods on its prototype. */
  flow(address: string, port: number): Flow {
    return new UdpFlow(this, address, port);
  }

  /** The flow of the last datagram received: datagrams come in runs from one peer (a trunk, a load generator). */
  private lastReceived: Flow | null = null;

  /**
   * Consecutive datagrams from one peer share one flow, so that what transactions and the absorber
   * keep for 32 s is not a copy per message.
   */
  private received(address: string, port: number): Flow {
    const last = this.lastReceived;
    if (last && last.remotePort === port && last.remoteAddress === address) return last;
    return (this.lastReceived = this.flow(address, port));
  }

  send(data: Buffer, address: string, port: number): boolean {
    if (this.closed) return false;
    this.socket.send(data, port, address);
    return true;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  close(): Promise<void> {
    this.closed = true;
    this.inbox.close();
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

class UdpFlow implements Flow {
  readonly transport = 'UDP' as const;
  readonly reliable = false;

  constructor(
    private readonly udp: UdpTransport,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {}

  get id(): string {
    return udpFlowId(this.remoteAddress, this.remotePort);
  }

  send(data: Buffer): boolean {
    return this.udp.send(data, this.remoteAddress, this.remotePort);
  }

  isOpen(): boolean {
    return this.udp.isOpen;
  }
}
