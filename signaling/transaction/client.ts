/** Client transactions (RFC 3261 §17.1, with RFC 6026's Accepted state for INVITE). */
import { header, NO_BODY, SipRequest, SipResponse } from '../sip/message';
import { Flow } from '../transport/flow';
import { Transaction, TransactionHome } from './transaction';

/** The only way up from a client transaction. */
export interface ClientTransactionUser {
  onResponse(res: SipResponse, tx: ClientTransaction): void;
  /** Timer B/F fired, or the flow could not carry the request. */
  onFailure(tx: ClientTransaction, reason: 'timeout' | 'transport'): void;
}

const NO_BYTES = Buffer.alloc(0);

export abstract class ClientTransaction extends Transaction {
  protected bytes: Buffer;
  readonly method: string;
  gotProvisional = false;
  /** Null from the final response on: the states after it only match responses. */
  protected outstanding: SipRequest | null;
  /** Null once nothing more goes up, so that a lingering transaction does not keep its user alive. */
  private user: ClientTransactionUser | null;

  constructor(key: string, request: SipRequest, flow: Flow, user: ClientTransactionUser, home: TransactionHome) {
    super(key, flow, request.method === 'INVITE' ? 'calling' : 'trying', home);
    this.outstanding = request;
    this.method = request.method;
    this.user = user;
    this.bytes = request.toBuffer();
  }

  /** The request while no final response has come: what an ACK or a CANCEL is built from. */
  get request(): SipRequest | null {
    return this.outstanding;
  }

  start(): void {
    if (!this.flow.send(this.bytes)) {
      // Report asynchronously so that callers never see re-entrant callbacks from start().
      queueMicrotask(() => this.fail('transport'));
      return;
    }
    this.armTimers();
  }

  protected abstract armTimers(): void;
  abstract receive(res: SipResponse): void;

  /** Ends the transaction as if its timeout had fired, unless its final response has come. */
  timeOut(): void {
    if (this.outstanding) this.fail('timeout');
  }

  protected fail(reason: 'timeout' | 'transport'): void {
    if (this.state === 'terminated') return;
    const user = this.finish();
    this.terminate();
    user?.onFailure(this, reason);
  }

  protected report(res: SipResponse): void {
    this.user?.onResponse(res, this);
  }

  /** Lets go of the request and the user; returns the user for its last report. */
  protected finish(): ClientTransactionUser | null {
    const user = this.user;
    this.outstanding = null;
    this.user = null;
    return user;
  }

  protected retransmit(interval: number, cap: number, while_: () => boolean): void {
    this.armRetransmit(interval, () => {
      if (!while_()) return;
      this.flow.send(this.bytes);
      this.retransmit(Math.min(2 * interval, cap), cap, while_);
    });
  }
}

export class InviteClientTransaction extends ClientTransaction {
  /** Kept through Timer D as a string: a Buffer would be a slice that keeps a whole 8 KB pool slab alive. */
  private ack: string | null = null;

  protected armTimers(): void {
    if (!this.flow.reliable) this.retransmit(this.home.timers.A, Infinity, () => this.state === 'calling');
    this.armTimeout(this.home.timers.B, () => {
      if (this.state === 'calling') this.fail('timeout');
    });
  }

  /**
   * A CANCEL went out for this INVITE: a UAS that answers neither must not keep it (and its caller)
   * waiting, so with no final response 64*T1 later it ends as timed out (RFC 3261 §9.1).
   */
  cancelled(): void {
    if (this.outstanding) this.armTimeout(this.home.timers.B, () => this.timeOut());
  }

  receive(res: SipResponse): void {
    const s = res.status;
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        this.stopRetransmit();
        // Retransmissions are over: the request's bytes need not stay alive through Timer M or D.
        this.bytes = NO_BYTES;
        if (s < 200) {
          this.state = 'proceeding';
          this.gotProvisional = true;
          this.stopTimeout();
          this.report(res);
        } else if (s < 300) {
          // Accepted still passes 2xx up (RFC 6026), so only the request goes.
          this.outstanding = null;
          this.linger('accepted', this.home.timers.M);
          this.report(res);
        } else {
          if (this.outstanding) this.sendAck(this.outstanding, res);
          const user = this.finish();
          this.linger('completed', this.home.timers.D(this.flow.reliable));
          user?.onResponse(res, this);
        }
        break;
      case 'accepted':
        if (s >= 200 && s < 300) this.report(res);
        break;
      case 'completed':
        if (s >= 300 && this.ack !== null) this.flow.send(Buffer.from(this.ack, 'latin1'));
        break;
      default:
    }
  }

  /** The hop-by-hop ACK for a non-2xx final (RFC 3261 §17.1.1.3). */
  private sendAck(req: SipRequest, res: SipResponse): void {
    const headers = [];
    for (const h of req.headers) {
      if (h.key === 'via') {
        headers.push(header('Via', req.topVia!.raw));
        break;
      }
    }
    for (const key of ['max-forwards', 'from', 'call-id', 'route']) {
      for (const h of req.headers) if (h.key === key) headers.push(h);
    }
    const to = res.get('to');
    if (to !== undefined) headers.push(header('To', to));
    headers.push(header('CSeq', `${req.cseq!.seq} ACK`));
    const ack = new SipRequest('ACK', req.uri, headers, NO_BODY);
    const bytes = ack.toBuffer();
    this.flow.send(bytes);
    if (!this.flow.reliable) this.ack = bytes.toString('latin1');
  }
}

export class NonInviteClientTransaction extends ClientTransaction {
  protected armTimers(): void {
    if (!this.flow.reliable) {
      this.retransmit(this.home.timers.E, this.home.timers.T2, () => this.state === 'trying' || this.state === 'proceeding');
    }
    this.armTimeout(this.home.timers.F, () => this.fail('timeout'));
  }

  receive(res: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    if (res.status < 200) {
      this.state = 'proceeding';
      this.gotProvisional = true;
      this.report(res);
      return;
    }
    this.bytes = NO_BYTES;
    const user = this.finish();
    this.linger('completed', this.home.timers.K(this.flow.reliable));
    user?.onResponse(res, this);
  }
}
