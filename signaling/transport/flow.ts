/**
 * A flow is the path a message came on and the way back to that peer (RFC 5626 §3): a WebSocket or TCP
 * connection, or a UDP source address. Browsers are reachable only over the flow they opened.
 */
export type TransportName = 'UDP' | 'TCP' | 'WS' | 'WSS';

export interface Flow {
  /** Stable id: `w<n>` WebSocket, `t<n>` TCP, `u<ip>:<port>` UDP. */
  readonly id: string;
  readonly transport: TransportName;
  readonly reliable: boolean;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Sends one message; false when the flow is closed. */
  send(data: Buffer): boolean;
  isOpen(): boolean;
}

/** What a transport hands its input to. */
export interface FlowHandler {
  onMessage(data: Buffer, flow: Flow): void;
  onFlowClosed(flow: Flow): void;
}

export function udpFlowId(address: string, port: number): string {
  return `u${address}:${port}`;
}

/** Finds a flow by id; a UDP id always yields a flow (datagrams need no connection). */
export interface FlowRegistry {
  get(id: string): Flow | undefined;
}
