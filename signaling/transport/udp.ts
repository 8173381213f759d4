/** SIP over UDP: one datagram, one message. */
import dgram from 'node:dgram';
import { Flow, FlowHandler, udpFlowId } from './flow';

export class UdpTransport {
  private socket: dgram.Socket;
  constructor(private readonly handler: FlowHandler) {
    this.socket = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    this.socket.on('message', (data, rinfo) => {
      this.handler.onMessage(data, this.flow(rinfo.address, rinfo.port));
    });
    // A failed send (ICMP unreachable etc.) must never take the server down.
    this.socket.on('error', () => undefined);
  }

  listen(port: number, address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(port, address, () => {
        this.socket.off('error', reject);
        resolve(this.socket.address().port);
      });
    });
  }

  private closed = false;

  flow(address: string, port: number): Flow {
    const socket = this.socket;
    const isOpen = () => !this.closed;
    return {
      id: udpFlowId(address, port), transport: 'UDP', reliable: false, remoteAddress: address, remotePort: port,
      send(data: Buffer) {
        if (!isOpen()) return false;
        socket.send(data, port, address);
        return true;
      },
      isOpen,
    };
  }

  close(): Promise<void> {
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
