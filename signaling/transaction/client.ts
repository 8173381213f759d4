/** Client transactions (RFC 3261 §17.1, with RFC 6026's Accepted state for INVITE). */
import { header, NO_BODY, SipRequest, SipResponse } from '../sip/message';
import { Flow } from '../transport/flow';
import { Timers, T2 } from './timers';
import { Transaction } from './transaction';

/** The only way up from a client transaction. */
export interface ClientTransactionUser {
  onResponse(res: SipResponse, tx: ClientTransaction): void;
  /** Timer B/F fired, or the flow could not carry the request. */
  onFailure(tx: ClientTransaction, reason: 'timeout' | 'transport'): void;
}

const NO_BYTES = Buffer.alloc(0);

export abstract class ClientTransaction extends Transaction {
  protected bytes: Buffer;
  gotProvisional = false;
  /** Null from the final response on: the states after it only match responses. */
  protected outstanding: SipRequest | null;
  /** Null once nothing more goes up, so that a lingering transaction does not keep its user alive. */
  private user: ClientTransactionUser | null;

  constructor(key: string, request: SipRequest, flow: Flow, user: ClientTransactionUser) {
    super(key, flow, request.method === 'INVITE' ? 'calling' : 'trying');
    this.outstanding = request;
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

  protected retransmit(timer: string, interval: number, cap: number, while_: () => boolean): void {
    this.startTimer(timer, interval, () => {
      if (!while_()) return;
      this.flow.send(this.bytes);
      this.retransmit(timer, Math.min(2 * interval, cap), cap, while_);
    });
  }
}

export class InviteClientTransaction extends ClientTransaction {
  private ackBytes: Buffer | null = null;

  protected armTimers(): void {
    if (!this.flow.reliable) this.retransmit('A', Timers.A, Infinity, () => this.state === 'calling');
    this.startTimer('B', Timers.B, () => {
      if (this.state === 'calling') this.fail('timeout');
    });
  }

  receive(res: SipResponse): void {
    const s = res.status;
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        this.stopTimer('A');
        // Retransmissions are over: the request's bytes need not stay alive through Timer M or D.
        this.bytes = NO_BYTES;
        if (s < 200) {
          this.state = 'proceeding';
          this.gotProvisional = true;
          this.stopTimer('B');
          this.report(res);
        } else if (s < 300) {
          this.stopTimer('B');
          this.state = 'accepted';
          // Accepted still passes 2xx up (RFC 6026), so only the request goes.
          this.outstanding = null;
          this.startTimer('M', Timers.M, () => this.terminate());
          this.report(res);
        } else {
          this.stopTimer('B');
          if (this.outstanding) this.sendAck(this.outstanding, res);
          const user = this.finish();
          this.linger('completed', 'D', Timers.D(this.flow.reliable));
          user?.onResponse(res, this);
        }
        break;
      case 'accepted':
        if (s >= 200 && s < 300) this.report(res);
        break;
      case 'completed':
        if (s >= 300 && this.ackBytes) this.flow.send(this.ackBytes);
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
    this.ackBytes = ack.toBuffer();
    this.flow.send(this.ackBytes);
  }
}

export class NonInviteClientTransaction extends ClientTransaction {
  protected armTimers(): void {
    if (!this.flow.reliable) {
      this.retransmit('E', Timers.E, T2, () => this.state === 'trying' || this.state === 'proceeding');
    }
    this.startTimer('F', Timers.F, () => this.fail('timeout'));
  }

  receive(res: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    if (res.status < 200) {
      this.state = 'proceeding';
      this.gotProvisional = true;
      this.report(res);
      return;
    }
    this.stopTimer('E');
    this.stopTimer('F');
    this.bytes = NO_BYTES;
    const user = this.finish();
    this.linger('completed', 'K', Timers.K(this.flow.reliable));
    user?.onResponse(res, this);
  }
}
