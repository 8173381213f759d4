/**
 * The response context of a forked request (RFC 3261 §16.7): branches run in parallel; 1xx (not 100)
 * and every 2xx go upstream at once; the first 2xx CANCELs the other branches with
 * `Reason: SIP ;cause=200 ;text="Call completed elsewhere"`; when every branch has failed, the best
 * final response is chosen and sent — unless the proxy takes the call elsewhere (a forward).
 */
import { header, NO_BODY, SipRequest, SipResponse } from '../sip/message';
import { parseNameAddr } from '../sip/name-addr';
import { createResponse } from '../sip/response';
import { ClientTransaction, ClientTransactionUser } from '../transaction/client';
import { ServerTransaction } from '../transaction/server';
import { TransactionLayer } from '../transaction/table';
import { Flow } from '../transport/flow';

export const COMPLETED_ELSEWHERE = 'SIP ;cause=200 ;text="Call completed elsewhere"';
export const NOBODY_ANSWERED = 'SIP ;cause=480 ;text="No participant answered"';

/** A branch's way to try again after a 401/407 (a trunk challenging us), or null to give up. */
export type Reauthorize = (challenge: SipResponse) => SipRequest | null;

interface Branch {
  tx: ClientTransaction;
  flow: Flow;
  /** Who this branch rings (a user id), reported as answered-by. */
  label: string | null;
  reauthorize?: Reauthorize;
  final: number | null;
  cancelSent: boolean;
  /** CANCEL owed once the branch's first provisional arrives (§9.1 forbids CANCEL before it). */
  cancelReason: string | null | undefined;
  timerC?: NodeJS.Timeout;
}

export interface ForkOptions {
  timerCMs: number;
  /** Stop ringing after this long: the call is given up (see onGiveUp), 480 by default. */
  ringTimeoutMs?: number;
  /**
   * A group call (Quobis user groups): a participant's reject is not reported while others ring,
   * a 6xx does not stop the others, and when nobody answers the caller gets 480 with a Reason.
   */
  group?: boolean;
  /**
   * Nobody answered: every branch failed (`best` is what would go upstream) or the ring timeout
   * fired. Returning true means the proxy carries the call on elsewhere (a forward), on the same
   * server transaction; this context then ends without a final response of its own.
   */
  onGiveUp?(best: SipResponse | null, why: 'failed' | 'timeout'): boolean;
  /** The first 2xx went upstream; `label` is the branch's. */
  onAnswered?(label: string | null, res: SipResponse): void;
  /** A non-2xx final went upstream. */
  onFailed?(status: number): void;
  /** From and To values to put back in responses (the request went out with other identities); To keeps the callee's tag. */
  upstreamFrom?: string;
  upstreamTo?: string;
}

export class ResponseContext implements ClientTransactionUser {
  private branches = new Map<ClientTransaction, Branch>();
  private best: SipResponse | null = null;
  /** No more final response may go upstream (one was sent, or the call was handed on). */
  private done = false;
  private answered = false;
  private winner: Branch | null = null;
  private cancelled = false;
  private ringTimer?: NodeJS.Timeout;

  constructor(
    private readonly layer: TransactionLayer,
    private readonly server: ServerTransaction,
    private readonly opts: ForkOptions,
    /** Builds our Via for a request we originate on a branch's flow. */
    private readonly via: (flow: Flow) => string,
  ) {
    if (opts.ringTimeoutMs !== undefined) {
      this.ringTimer = setTimeout(() => this.giveUp(), opts.ringTimeoutMs);
      this.ringTimer.unref();
      server.whenTerminated(() => clearTimeout(this.ringTimer));
    }
  }

  get isInvite(): boolean {
    return this.server.request.method === 'INVITE';
  }

  /** Sends one branch; `req` is already a prepared copy with our Via on top. */
  addBranch(req: SipRequest, flow: Flow, label: string | null = null, reauthorize?: Reauthorize): void {
    const tx = this.layer.sendRequest(req, flow, this);
    this.branches.set(tx, { tx, flow, label, reauthorize, final: null, cancelSent: false, cancelReason: undefined });
  }

  onResponse(res: SipResponse, tx: ClientTransaction): void {
    const b = this.branches.get(tx);
    if (!b) return;
    const s = res.status;
    if (s < 200) {
      if (b.cancelReason !== undefined && !b.cancelSent) this.sendCancel(b, b.cancelReason);
      if (this.isInvite) this.armTimerC(b);
      if (s > 100 && !this.done) this.server.respond(this.upstream(res));
      return;
    }
    const first = b.final === null;
    b.final = s;
    this.clearTimerC(b);
    if (s < 300) {
      // The caller already has its answer, or the call moved on: end this leg ourselves. A group call
      // connects its first answer only (and JsSIP drops its call on a second 2xx from another leg).
      if (this.done && (!this.answered || (this.opts.group && first && b !== this.winner))) {
        if (first) this.hangUp(res, b);
        return;
      }
      // Every 2xx goes upstream, also after a final was sent: the caller ACKs and BYEs extras.
      this.done = true;
      this.server.respond(this.upstream(res));
      if (!this.answered) {
        this.answered = true;
        this.winner = b;
        clearTimeout(this.ringTimer);
        this.opts.onAnswered?.(b.label, res);
      }
      if (first) this.cancelPending(COMPLETED_ELSEWHERE);
      return;
    }
    if (!first) return;
    if ((s === 401 || s === 407) && b.reauthorize && !this.done) {
      const again = b.reauthorize(res);
      if (again) {
        this.branches.delete(tx);
        this.addBranch(again, b.flow, b.label);
        return;
      }
    }
    this.consider(this.upstream(res));
    if (s >= 600 && !this.opts.group) this.cancelPending(null);
    this.maybeFinish();
  }

  onFailure(tx: ClientTransaction, reason: 'timeout' | 'transport'): void {
    const b = this.branches.get(tx);
    if (!b || b.final !== null) return;
    b.final = reason === 'timeout' ? 408 : 503;
    this.clearTimerC(b);
    this.consider(createResponse(this.server.request, b.final));
    this.maybeFinish();
  }

  /** Upstream CANCEL: stop every branch still ringing; the caller then gets 487. */
  cancel(reason: string | null): void {
    this.cancelled = true;
    clearTimeout(this.ringTimer);
    this.cancelPending(reason);
  }

  private cancelPending(reason: string | null): void {
    if (!this.isInvite) return;
    for (const b of this.branches.values()) {
      if (b.final !== null || b.cancelSent) continue;
      if (b.tx.gotProvisional) this.sendCancel(b, reason);
      else b.cancelReason = reason;
    }
  }

  private sendCancel(b: Branch, reason: string | null): void {
    b.cancelSent = true;
    const inv = b.tx.request;
    const headers = [header('Via', inv.topVia!.raw)];
    for (const key of ['route', 'from', 'to', 'call-id']) for (const h of inv.headers) if (h.key === key) headers.push(h);
    headers.push(header('Max-Forwards', '70'), header('CSeq', `${inv.cseq!.seq} CANCEL`));
    if (reason) headers.push(header('Reason', reason));
    const cancel = new SipRequest('CANCEL', inv.uri, headers, NO_BODY);
    // The CANCEL's own outcome does not matter: the INVITE branch's 487 (or Timer) settles it.
    this.layer.sendRequest(cancel, b.flow, { onResponse: () => undefined, onFailure: () => undefined });
  }

  private armTimerC(b: Branch): void {
    this.clearTimerC(b);
    b.timerC = setTimeout(() => {
      if (b.final === null && !b.cancelSent) this.sendCancel(b, null);
    }, this.opts.timerCMs);
    b.timerC.unref?.();
  }

  private clearTimerC(b: Branch): void {
    if (b.timerC) clearTimeout(b.timerC);
    b.timerC = undefined;
  }

  /** Keeps the best final so far, already in upstream form (§16.7 step 6). */
  private consider(res: SipResponse): void {
    if (!this.best || rank(res.status) < rank(this.best.status)) {
      if (this.best && isChallenge(this.best.status) && isChallenge(res.status)) copyChallenges(this.best, res);
      this.best = res;
    } else if (isChallenge(this.best.status) && isChallenge(res.status)) copyChallenges(res, this.best);
  }

  private maybeFinish(): void {
    if (this.done) return;
    for (const b of this.branches.values()) if (b.final === null) return;
    if (this.cancelled) {
      this.sendFinal(this.best?.status === 487 ? this.best : reason(this.best ?? createResponse(this.server.request, 487), 487, 'Request Terminated'));
      return;
    }
    if (this.opts.onGiveUp?.(this.best, 'failed')) {
      this.handOver();
      return;
    }
    let res = this.best ?? createResponse(this.server.request, 408);
    if (res.status === 503) res = reason(res, 500, 'Server Internal Error');
    this.sendFinal(this.opts.group ? this.nobodyAnswered() : res);
  }

  /** The ring timeout: stop every leg; the call moves on, or the caller hears nobody answered. */
  private giveUp(): void {
    if (this.done) return;
    this.cancelPending(this.opts.group ? NOBODY_ANSWERED : null);
    if (this.opts.onGiveUp?.(this.best, 'timeout')) this.handOver();
    else this.sendFinal(this.nobodyAnswered());
  }

  private handOver(): void {
    this.done = true;
    clearTimeout(this.ringTimer);
  }

  private nobodyAnswered(): SipResponse {
    const res = createResponse(this.server.request, 480);
    res.append('Reason', NOBODY_ANSWERED);
    return res;
  }

  private sendFinal(res: SipResponse): void {
    this.done = true;
    clearTimeout(this.ringTimer);
    this.server.respond(res);
    this.opts.onFailed?.(res.status);
  }

  /** ACK and BYE a 2xx that came too late to be passed on, so that no leg is left connected. */
  private hangUp(res: SipResponse, b: Branch): void {
    const contact = res.getAll('contact')[0];
    const target = contact ? parseNameAddr(contact)?.uri : undefined;
    const seq = res.cseq!.seq;
    if (!target) return;
    const dialog = (method: string, cseq: number) => new SipRequest(method, target, [
      header('Via', this.via(b.flow)), header('Max-Forwards', '70'), header('From', res.get('from')!),
      header('To', res.get('to')!), header('Call-ID', res.callId), header('CSeq', `${cseq} ${method}`),
    ], NO_BODY);
    b.flow.send(dialog('ACK', seq).toBuffer());
    this.layer.sendRequest(dialog('BYE', seq + 1), b.flow, { onResponse: () => undefined, onFailure: () => undefined });
  }

  /** The response as it goes upstream: without our Via, with the caller's own From and To. */
  private upstream(res: SipResponse): SipResponse {
    const out = res.clone();
    out.removeFirst('via');
    if (this.opts.upstreamFrom !== undefined) out.set('From', this.opts.upstreamFrom);
    if (this.opts.upstreamTo !== undefined) {
      const tag = out.toTag;
      out.set('To', tag === null ? this.opts.upstreamTo : `${this.opts.upstreamTo};tag=${tag}`);
    }
    return out;
  }
}

function rank(status: number): number {
  if (status >= 600) return 0;
  const cls = Math.floor(status / 100) * 100;
  // Within 4xx, challenges and fixable errors win (§16.7 step 6).
  const preferred = [401, 407, 415, 420, 484].includes(status) ? 0 : 1;
  return cls * 10 + preferred;
}

function isChallenge(s: number): boolean {
  return s === 401 || s === 407;
}

function copyChallenges(from: SipResponse, to: SipResponse): void {
  for (const key of ['www-authenticate', 'proxy-authenticate']) {
    for (const h of from.headers) if (h.key === key) to.append(h.name, h.value);
  }
}

function reason(res: SipResponse, status: number, phrase: string): SipResponse {
  const out = res.clone();
  out.status = status;
  out.reason = phrase;
  return out;
}
