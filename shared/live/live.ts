/**
 * The live view: who is registered with which devices, and which calls are under way. The signaling
 * core publishes to it and the admin API reads it; it is not the store, because it is rebuilt by
 * the traffic itself and must cost no disk write per REGISTER.
 */
import type { CallKind } from '../model/cdrs';

export interface LiveDevice {
  /** Contact URI as registered. */
  contact: string;
  transport: 'UDP' | 'TCP' | 'WS' | 'WSS';
  /** The +sip.instance URN without its quotes, when the UA sent one. */
  instance: string | null;
  userAgent: string | null;
  /** Epoch ms; a device is gone from the view once this has passed, refreshed or not. */
  expiresAt: number;
  /** Epoch ms of the binding's first REGISTER on its current connection. */
  registeredAt: number;
}

export interface LiveRegistration {
  /** The username, the AOR's user part. */
  user: string;
  aor: string;
  devices: LiveDevice[];
}

export interface LiveCall {
  /** Also the id of the call record written when the call ends. */
  id: string;
  callId: string;
  kind: CallKind;
  /** As in call records: a local caller's user id, else its SIP identity. */
  caller: string;
  /** The user id, the group id for a group call, or the dialled number. */
  callee: string;
  state: 'ringing' | 'answered';
  answeredBy: string | null;
  /** User ids who may see this call. */
  parties: string[];
  /** Epoch ms. */
  start: number;
  answer: number | null;
}

/** What changed on one node since its last publish; null removes the entry. */
export interface LiveChanges {
  /** By AOR. */
  registrations: ReadonlyMap<string, LiveRegistration | null>;
  /** By LiveCall.id. */
  calls: ReadonlyMap<string, LiveCall | null>;
}

export interface LiveState {
  /** Never throws and is never awaited: a failed write is logged and repaired by the implementation. */
  publish(changes: LiveChanges): void;
  /** Every node's registrations with an unexpired device, one entry per AOR. */
  registrations(): Promise<LiveRegistration[]>;
  /** Every node's calls under way. */
  calls(): Promise<LiveCall[]>;
  close(): Promise<void>;
}

/** The registration without its expired devices, or null when none is left. */
export function unexpired(r: LiveRegistration, now: number): LiveRegistration | null {
  if (r.devices.every((d) => d.expiresAt > now)) return r;
  const devices = r.devices.filter((d) => d.expiresAt > now);
  return devices.length > 0 ? { ...r, devices } : null;
}
