/** Call detail records: written by the signaling core when a call ends, read by the admin API. */
import type { Store } from '../store/store';
import { Collection } from './collection';

export type CallResult = 'answered' | 'no-answer' | 'busy' | 'rejected' | 'cancelled' | 'failed';
export type CallKind = 'direct' | 'group' | 'trunk-in' | 'trunk-out';

export interface Cdr {
  id: string;
  callId: string;
  kind: CallKind;
  /** Caller's user id when a local user called, else the caller's SIP identity. */
  caller: string;
  /** The user id, or the group id for a group call, or the dialled number. */
  callee: string;
  /** The user who answered (for a group call: the participant), if anyone did. */
  answeredBy: string | null;
  /** User ids this record concerns (caller, callee, participants who answered): who may read it. */
  parties: string[];
  start: string;
  answer: string | null;
  end: string;
  /** Seconds from answer to end; 0 when never answered. */
  duration: number;
  result: CallResult;
  /** The final SIP status the caller got. */
  code: number;
}

/**
 * Records go to the store's append-only log `cdr`, one JSON document per entry: written once, read
 * only in bulk, they would otherwise sit in the embedded store's memory for good (about 0.7 KB a call).
 */
export class Cdrs {
  /** Records written before the log, as documents `cdr:<id>`: still listed, never written. */
  private readonly legacy: Collection<Cdr>;

  constructor(private readonly store: Store) {
    this.legacy = new Collection<Cdr>(store, 'cdr');
  }

  /** Saves records in one append (one disk sync on the embedded store, one round trip on Redis). */
  async save(cdrs: Cdr[]): Promise<void> {
    await this.store.append('cdr', cdrs.map((cdr) => JSON.stringify(cdr)));
  }

  async list(): Promise<Cdr[]> {
    const logged: Cdr[] = [];
    for (const line of await this.store.readLog('cdr')) {
      // A line damaged on disk costs its own record, not the listing.
      try {
        logged.push(JSON.parse(line) as Cdr);
      } catch {
        continue;
      }
    }
    return [...(await this.legacy.all()), ...logged];
  }
}

/** The result a final status means for the caller (RFC 3261 §21 classes). */
export function resultOf(status: number): CallResult {
  if (status >= 200 && status < 300) return 'answered';
  if (status === 487) return 'cancelled';
  if (status === 486 || status === 600) return 'busy';
  if (status === 408 || status === 480) return 'no-answer';
  if (status === 603 || status === 403 || status === 404 || status === 604) return 'rejected';
  return 'failed';
}
