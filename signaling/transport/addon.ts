/**
 * The native transports (`native/`, a Node-API addon for Linux that `npm ci` builds): `udp` for SIP
 * over UDP (`datagram.ts`), `ws` for SIP over plain WebSocket after the upgrade (`ws.ts`). Where it is
 * not built or does not load, `auto` settings fall back to Node's own sockets.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Events arrive as one block: `count` records of 4 uint32, then the payloads they point into. */
export type OnBlock = (block: ArrayBuffer, count: number) => void;

export interface NativeUdp {
  /** Records: (offset, length, IPv4 address, port). */
  open(address: string, port: number, recvBuffer: number, sendBuffer: number, onBatch: OnBlock): object;
  port(handle: object): number;
  send(handle: object, data: Buffer, address: number, port: number): void;
  flush(handle: object): void;
  close(handle: object): void;
}

export interface NativeWs {
  /** Records: (kind: 0 message, 1 closed, connection id, offset, length). */
  open(maxPayload: number, onEvents: OnBlock): object;
  adopt(handle: object, id: number, fd: number, response: Buffer, head: Buffer): void;
  send(handle: object, id: number, data: Buffer): boolean;
  flush(handle: object): void;
  sweep(handle: object): void;
  close(handle: object): void;
}

export interface NativeAddon {
  udp: NativeUdp;
  ws: NativeWs;
}

let addon: NativeAddon | null | undefined;

/** The built addon, from the sources (tsx) or from dist/; null when there is none that loads. */
export function nativeAddon(): NativeAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  const rel = 'native/build/Release/wac_io.node';
  for (const file of [path.join(__dirname, rel), path.join(__dirname, '../../../signaling/transport', rel)]) {
    if (!fs.existsSync(file)) continue;
    try {
      addon = require(file) as NativeAddon;
    } catch (err) {
      // Built for another system (a copied node_modules, an older C library).
      process.emitWarning(`native transports ${file} do not load: ${(err as Error).message}`);
    }
    break;
  }
  return addon;
}

export const NOT_BUILT = 'the native addon is not built or does not load (npm run build:native)';
