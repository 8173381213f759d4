/** What every transaction shares: its key, its flow, its timers, and its end. */
import { Flow } from '../transport/flow';
import { Linger } from './linger';
import type { Timers } from './timers';

export type State = 'calling' | 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

/** The layer a transaction belongs to: where it waits out its late state and what forgets it. */
export interface TransactionHome {
  readonly linger: Linger;
  readonly timers: Timers;
  forget(tx: Transaction): void;
  /** Keeps a non-INVITE final response sent over UDP to answer retransmissions for Timer J. */
  absorb(key: string, finalBytes: Buffer, replyFlow: Flow): void;
}

/**
 * At most two Node timers run at once: a retransmission timer (A, E, G) and a timeout (B, F, H). The
 * late states wait in the home's Linger instead (D, I, K, L, M); Timer J is the home's absorber.
 */
export abstract class Transaction {
  state: State;
  private retransmitTimer: NodeJS.Timeout | null = null;
  private timeoutTimer: NodeJS.Timeout | null = null;
  private onTerminated: Array<() => void> | null = null;

  constructor(readonly key: string, public flow: Flow, initial: State, protected readonly home: TransactionHome) {
    this.state = initial;
  }

  // A fired timer may stay in its field: clearing it again is harmless, and linger() and terminate()
  // empty both fields.
  protected armRetransmit(ms: number, fire: () => void): void {
    clearTimeout(this.retransmitTimer ?? undefined);
    this.retransmitTimer = setTimeout(fire, ms);
  }

  protected stopRetransmit(): void {
    clearTimeout(this.retransmitTimer ?? undefined);
    this.retransmitTimer = null;
  }

  protected armTimeout(ms: number, fire: () => void): void {
    clearTimeout(this.timeoutTimer ?? undefined);
    this.timeoutTimer = setTimeout(fire, ms);
  }

  protected stopTimeout(): void {
    clearTimeout(this.timeoutTimer ?? undefined);
    this.timeoutTimer = null;
  }

  /** Runs `f` when the transaction ends. */
  whenTerminated(f: () => void): void {
    (this.onTerminated ??= []).push(f);
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.stopRetransmit();
    this.stopTimeout();
    this.home.forget(this);
    if (this.onTerminated) for (const f of this.onTerminated) f();
    this.onTerminated = null;
  }

  /** Enters a state that absorbs retransmissions for `ms` (0 on reliable transports ends at once). */
  protected linger(state: State, ms: number): void {
    this.stopRetransmit();
    this.stopTimeout();
    this.state = state;
    this.home.linger.add(this, ms);
  }
}
