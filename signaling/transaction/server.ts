/** Server transactions (RFC 3261 §17.2, with RFC 6026's Accepted state for INVITE). */
import { SipResponse } from '../sip/message';
import { Flow } from '../transport/flow';
import { Transaction, TransactionHome } from './transaction';

/**
 * The request itself is not kept: the TU gets it with the transaction, and matching goes by key, so
 * a transaction lingering in a late state holds no message.
 */
export abstract class ServerTransaction extends Transaction {
  /** The last response, for retransmissions of the request; null in states that resend nothing. */
  protected lastBytes: Buffer | null = null;

  /** @param replyFlow where responses go: the request's connection, or for UDP the Via-derived address. */
  constructor(key: string, flow: Flow, readonly replyFlow: Flow, initial: 'proceeding' | 'trying', home: TransactionHome) {
    super(key, flow, initial, home);
  }

  abstract respond(res: SipResponse): void;

  /**
   * A final response the TU would give again to a retransmission of the request, such as a digest
   * challenge: RFC 3261 §8.2.7 lets a UAS send those statelessly, and our nonces need no state. A
   * non-INVITE transaction then keeps nothing for Timer J (under REGISTER load, half of what it
   * would keep); an INVITE one still waits for the ACK of its non-2xx.
   */
  respondStateless(res: SipResponse): void {
    this.respond(res);
  }

  /** A retransmission of the request arrived. */
  abstract onRetransmission(): void;

  protected send(res: SipResponse): void {
    this.lastBytes = res.toBuffer();
    this.replyFlow.send(this.lastBytes);
  }

  protected resend(): void {
    if (this.lastBytes) this.replyFlow.send(this.lastBytes);
  }
}

export class InviteServerTransaction extends ServerTransaction {
  constructor(key: string, flow: Flow, replyFlow: Flow, home: TransactionHome) {
    super(key, flow, replyFlow, 'proceeding', home);
  }

  respond(res: SipResponse): void {
    if (this.state === 'proceeding') {
      if (res.status >= 200 && res.status < 300) {
        // Accepted resends nothing of its own: the TU hands down every 2xx retransmission.
        this.lastBytes = null;
        this.replyFlow.send(res.toBuffer());
        this.linger('accepted', this.home.timers.L);
        return;
      }
      this.send(res);
      if (res.status < 200) return;
      this.state = 'completed';
      if (!this.replyFlow.reliable) this.retransmit(this.home.timers.G);
      this.armTimeout(this.home.timers.H, () => this.terminate());
    } else if (this.state === 'accepted' && res.status >= 200 && res.status < 300) {
      // Retransmissions of the 2xx (and 2xx from other forks) pass straight through (RFC 6026 §7.1).
      this.replyFlow.send(res.toBuffer());
    }
  }

  private retransmit(interval: number): void {
    this.armRetransmit(interval, () => {
      if (this.state !== 'completed') return;
      this.resend();
      this.retransmit(Math.min(2 * interval, this.home.timers.T2));
    });
  }

  onRetransmission(): void {
    if (this.state === 'proceeding' || this.state === 'completed') this.resend();
  }

  onAck(): void {
    if (this.state !== 'completed') return;
    // Confirmed only absorbs ACKs.
    this.lastBytes = null;
    this.linger('confirmed', this.home.timers.I(this.replyFlow.reliable));
  }
}

export class NonInviteServerTransaction extends ServerTransaction {
  constructor(key: string, flow: Flow, replyFlow: Flow, home: TransactionHome) {
    super(key, flow, replyFlow, 'trying', home);
  }

  respond(res: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.send(res);
    if (res.status < 200) this.state = 'proceeding';
    else if (this.replyFlow.reliable) this.terminate();
    else {
      // Timer J's absorbing needs only the final response: the home keeps it, not this transaction
      // with its timers and closures.
      this.home.absorb(this.key, this.lastBytes!, this.replyFlow);
      this.terminate();
    }
  }

  override respondStateless(res: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.send(res);
    this.terminate();
  }

  /** A final response ends the transaction (the absorber answers later retransmissions), so only Proceeding resends. */
  onRetransmission(): void {
    if (this.state === 'proceeding') this.resend();
  }
}
