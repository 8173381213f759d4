/** SIP over UDP: one datagram, one message. */
import { createDatagramSocket, DatagramIo, DatagramSocket } from './datagram';
import { Flow, FlowHandler, udpFlowId } from './flow';
import { Inbox } from './inbox';

export class UdpTransport {
  private socket: DatagramSocket | null = null;
  private inbox: Inbox;

  constructor(handler: FlowHandler, private readonly io: DatagramIo = 'auto') {
    this.inbox = new Inbox(handler);
  }

  /** Which socket serves: `native` (batched reads, a sending thread) or `node` (dgram); null before listen(). */
  get kind(): 'native' | 'node' | null {
    return this.socket?.kind ?? null;
  }

  listen(port: number, address: string): Promise<number> {
    this.socket = createDatagramSocket(this.io, address, (data, from, fromPort) => this.inbox.push(data, this.received(from, fromPort)));
    return this.socket.bind(port, address);
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
    if (this.closed || !this.socket) return false;
    this.socket.send(data, address, port);
    return true;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  close(): Promise<void> {
    this.closed = true;
    this.inbox.close();
    return this.socket ? this.socket.close() : Promise.resolve();
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
