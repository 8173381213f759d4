/**
 * Every RFC 3261 §17 / RFC 6026 timer in one place (milliseconds), derived from the base values T1,
 * T2 and T4 (§17.1.1.1: smaller on closed networks, larger where round trips are known to be long).
 */
export interface TimerBase {
  t1: number;
  t2: number;
  t4: number;
}

const RFC_TIMER_BASE: TimerBase = { t1: 500, t2: 4000, t4: 5000 };

export class Timers {
  readonly T2: number;
  readonly T4: number;
  /** INVITE request retransmit (unreliable transports only), doubling. */
  readonly A: number;
  /** INVITE client transaction timeout; also how long a CANCELled INVITE waits for its final (§9.1). */
  readonly B: number;
  /** Non-INVITE request retransmit, doubling up to T2. */
  readonly E: number;
  /** Non-INVITE client transaction timeout. */
  readonly F: number;
  /** INVITE final response retransmit (server, unreliable). */
  readonly G: number;
  /** Wait for ACK after a non-2xx final. */
  readonly H: number;
  /** Absorb non-INVITE request retransmits (unreliable transports only: reliable ones keep nothing). */
  readonly J: number;
  /** RFC 6026 Accepted state: server side after a 2xx. */
  readonly L: number;
  /** RFC 6026 Accepted state: client side after a 2xx. */
  readonly M: number;

  constructor({ t1, t2, t4 }: TimerBase = RFC_TIMER_BASE) {
    this.T2 = t2;
    this.T4 = t4;
    this.A = this.E = this.G = t1;
    this.B = this.F = this.H = this.J = this.L = this.M = 64 * t1;
  }

  /** Wait for response retransmits after a non-2xx final (client INVITE): at least 32 s on UDP whatever T1. */
  D(reliable: boolean): number {
    return reliable ? 0 : Math.max(32000, this.B);
  }

  /** Absorb ACK retransmits. */
  I(reliable: boolean): number {
    return reliable ? 0 : this.T4;
  }

  /** Absorb non-INVITE response retransmits. */
  K(reliable: boolean): number {
    return reliable ? 0 : this.T4;
  }
}
