/**
 * The UDP socket under the SIP transport, in one of two kinds:
 * - `native` (Linux, when `npm ci` built `native/`): whatever is readable is received with recvmmsg
 *   and handed to JS in one call, and what a callback sends is written with one sendmmsg; see
 *   `native/udp.cc`;
 * - `node`: Node's dgram, everywhere.
 * Both bind one IPv4 address and deliver (data, address, port) per datagram, in order.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { NativeUdp, NOT_BUILT, nativeAddon } from './addon';

export type DatagramIo = 'auto' | 'native' | 'node';

export type OnDatagram = (data: Buffer, address: string, port: number) => void;

export interface DatagramSocket {
  readonly kind: 'native' | 'node';
  /** Binds and resolves with the port (useful with 0). */
  bind(port: number, address: string): Promise<number>;
  /** Queues one datagram; never throws (UDP may lose it anyway). */
  send(data: Buffer, address: string, port: number): void;
  close(): Promise<void>;
}

const RECV_BUFFER = 4 * 1024 * 1024;
const SEND_BUFFER = 1024 * 1024;

/** Whether the native socket can serve this address. */
export function nativeAvailable(address: string): boolean {
  return nativeAddon() !== null && net.isIPv4(address);
}

export function createDatagramSocket(io: DatagramIo, address: string, onDatagram: OnDatagram): DatagramSocket {
  if (io === 'node' || (io === 'auto' && !nativeAvailable(address))) return new NodeDatagramSocket(onDatagram);
  if (!nativeAvailable(address)) {
    throw new Error(`udp_io = native: ${nativeAddon() ? `${address} is not an IPv4 address` : NOT_BUILT}`);
  }
  return new NativeDatagramSocket(nativeAddon()!.udp, onDatagram);
}

class NodeDatagramSocket implements DatagramSocket {
  readonly kind = 'node';
  private socket = dgram.createSocket({ type: 'udp4', reuseAddr: false });

  constructor(onDatagram: OnDatagram) {
    this.socket.on('message', (data, rinfo) => onDatagram(data, rinfo.address, rinfo.port));
    // A failed send (ICMP unreachable etc.) must never take the server down.
    this.socket.on('error', () => undefined);
  }

  bind(port: number, address: string): Promise<number> {
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

  send(data: Buffer, address: string, port: number): void {
    this.socket.send(data, port, address);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

class NativeDatagramSocket implements DatagramSocket {
  readonly kind = 'native';
  private handle: object | null = null;
  // Datagrams come in runs from one peer and go in runs to one: one entry each way saves the
  // conversions between dotted text and a number.
  private inNumber = -1;
  private inText = '';
  // Never a valid address: the first send converts.
  private outText: string | null = null;
  private outNumber = 0;
  private flushing = false;

  constructor(private readonly addon: NativeUdp, private readonly onDatagram: OnDatagram) {}

  bind(port: number, address: string): Promise<number> {
    try {
      this.handle = this.addon.open(address, port, RECV_BUFFER, SEND_BUFFER, this.batch);
      return Promise.resolve(this.addon.port(this.handle));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** `count` records of (offset, length, address, port), then the datagrams, in one block. */
  private batch = (block: ArrayBuffer, count: number): void => {
    const meta = new Uint32Array(block, 0, 4 * count);
    for (let i = 0; i < 4 * count; i += 4) {
      const addr = meta[i + 2];
      if (addr !== this.inNumber) {
        this.inNumber = addr;
        this.inText = `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
      }
      this.onDatagram(Buffer.from(block, meta[i], meta[i + 1]), this.inText, meta[i + 3]);
    }
  };

  send(data: Buffer, address: string, port: number): void {
    if (!this.handle) return;
    if (address !== this.outText) {
      const n = ipv4Number(address);
      // Not a dotted IPv4 address (a host name from a trunk's config): nothing can be sent.
      if (n === null) return;
      this.outText = address;
      this.outNumber = n;
    }
    this.addon.send(this.handle, data, this.outNumber, port);
    // What the current callback sends goes out in one sendmmsg, once it returns.
    if (!this.flushing) {
      this.flushing = true;
      queueMicrotask(this.flush);
    }
  }

  private flush = (): void => {
    this.flushing = false;
    if (this.handle) this.addon.flush(this.handle);
  };

  close(): Promise<void> {
    if (this.handle) this.addon.close(this.handle);
    this.handle = null;
    return Promise.resolve();
  }
}

function ipv4Number(address: string): number | null {
  if (!net.isIPv4(address)) return null;
  const p = address.split('.');
  return ((+p[0] << 24) | (+p[1] << 16) | (+p[2] << 8) | +p[3]) >>> 0;
}
