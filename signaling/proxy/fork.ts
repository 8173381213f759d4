/**
 * The response context of a forked request (RFC 3261 §16.7): branches run in parallel; 1xx (not 100)
 * and every 2xx go upstream at once; the first 2xx CANCELs the other branches with
 * `Reason: SIP ;cause=200 ;text="Call completed elsewhere"`; when every branch has failed, the best
 * final response is chosen and sent — unless the proxy takes the call elsewhere (a forward).
 */
import { header, NO_BODY, own, SipRequest, SipResponse } from '../sip/message';
import { parseNameAddr } from '../sip/name-addr';
import { createResponse } from '../sip/response';
import { ClientTransaction, ClientTransactionUser, InviteClientTransaction } from '../transaction/client';
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
  /** Timer C cancelled this branch: its 487 means the callee never answered (408), not a CANCEL by the caller. */
  timedOut?: boolean;
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

/**
 * What deciding the final response needs: the request and the router's policy (whose closures hold
 * the request too). Let go of once a final response went upstream or the call was handed on, so that
 * an answered call does not keep them through the 32 s of RFC 6026's Accepted state.
 */
interface Undecided {
  request: SipRequest;
  opts: ForkOptions;
  best: SipResponse | null;
  cancelled: boolean;
  ringTimer?: NodeJS.Timeout;
}

export class ResponseContext implements ClientTransactionUser {
  private branches = new Map<ClientTransaction, Branch>();
  /** Null once no more final response may go upstream (one was sent, or the call was handed on). */
  private undecided: Undecided | null;
  private winner: Branch | null = null;
  private readonly isInvite: boolean;
  // What outlives the decision: later 2xx still go upstream, late legs are still cancelled and hung up.
  private readonly timerCMs: number;
  private readonly group: boolean;
  private readonly upstreamFrom?: string;
  private readonly upstreamTo?: string;

  constructor(
    private readonly layer: TransactionLayer,
    private readonly server: ServerTransaction,
    request: SipRequest,
    opts: ForkOptions,
    /** Builds our Via for a request we originate on a branch's flow. */
    private readonly via: (flow: Flow) => string,
  ) {
    this.isInvite = request.method === 'INVITE';
    this.timerCMs = opts.timerCMs;
    this.group = opts.group === true;
    // Taken from the caller's INVITE: copies, so that they do not keep its text alive with them.
    this.upstreamFrom = opts.upstreamFrom === undefined ? undefined : own(opts.upstreamFrom);
    this.upstreamTo = opts.upstreamTo === undefined ? undefined : own(opts.upstreamTo);
    this.undecided = { request, opts, best: null, cancelled: false };
    if (opts.ringTimeoutMs !== undefined) {
      const timer = setTimeout(() => this.giveUp(), opts.ringTimeoutMs);
      timer.unref();
      this.undecided.ringTimer = timer;
      server.whenTerminated(() => clearTimeout(timer));
    }
  }

  /** Sends one branch; `req` is already a prepared copy with our Via on top. */
  addBranch(req: SipRequest, flow: Flow, label: string | null = null, reauthorize?: Reauthorize): void {
    const tx = this.layer.sendRequest(req, flow, this);
    const b: Branch = { tx, flow, label, reauthorize, final: null, cancelSent: false, cancelReason: undefined };
    this.branches.set(tx, b);
    if (this.isInvite) this.armTimerC(b);
  }

  onResponse(res: SipResponse, tx: ClientTransaction): void {
    const b = this.branches.get(tx);
    if (!b) return;
    const s = res.status;
    if (s < 200) {
      if (b.cancelReason !== undefined && !b.cancelSent) this.sendCancel(b, b.cancelReason);
      if (s > 100 && this.isInvite) this.armTimerC(b);
      if (s > 100 && this.undecided) this.server.respond(this.upstream(res));
      return;
    }
    const first = b.final === null;
    const reauthorize = b.reauthorize;
    this.settle(b, s);
    const u = this.undecided;
    if (s < 300) {
      // The caller already has its answer, or the call moved on: end this leg ourselves. A group call
      // connects its first answer only (and JsSIP drops its call on a second 2xx from another leg), so
      // no other leg's 2xx goes up, not even a retransmission of one already hung up.
      if (!u && (!this.winner || (this.group && b !== this.winner))) {
        this.hangUp(res, b, first);
        return;
      }
      // Every 2xx goes upstream, also after a final was sent: the caller ACKs and BYEs extras.
      this.decide();
      this.server.respond(this.upstream(res));
      if (u) {
        this.winner = b;
        u.opts.onAnswered?.(b.label, res);
      }
      if (first) this.cancelPending(COMPLETED_ELSEWHERE);
      return;
    }
    if (!first) return;
    // A caller who has CANCELled gets no new leg.
    if ((s === 401 || s === 407) && reauthorize && u && !u.cancelled) {
      const again = reauthorize(res);
      if (again) {
        this.branches.delete(tx);
        this.addBranch(again, b.flow, b.label);
        return;
      }
    }
    if (u) {
      // Only a call being set up times out: a 408 to a re-INVITE would end its dialog (RFC 3261 §14.1).
      const timedOut = b.timedOut && s === 487 && u.request.toTag === null;
      this.consider(u, timedOut ? reason(this.upstream(res), 408, 'Request Timeout') : this.upstream(res));
    }
    if (s >= 600 && !this.group) this.cancelPending(null);
    this.maybeFinish();
  }

  onFailure(tx: ClientTransaction, reason: 'timeout' | 'transport'): void {
    const b = this.branches.get(tx);
    if (!b || b.final !== null) return;
    const status = reason === 'timeout' ? 408 : 503;
    this.settle(b, status);
    if (this.undecided) this.consider(this.undecided, createResponse(this.undecided.request, status));
    this.maybeFinish();
  }

  /** Upstream CANCEL: stop every branch still ringing; the caller then gets 487. */
  cancel(reason: string | null): void {
    const u = this.undecided;
    if (u) {
      u.cancelled = true;
      clearTimeout(u.ringTimer);
    }
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
    const inv = b.tx.request;
    // Only a transaction ended by the layer's shutdown lacks it: there is nothing left to cancel.
    if (!inv) return;
    b.cancelSent = true;
    const headers = [header('Via', inv.topVia!.raw)];
    for (const key of ['route', 'from', 'to', 'call-id']) for (const h of inv.headers) if (h.key === key) headers.push(h);
    headers.push(header('Max-Forwards', '70'), header('CSeq', `${inv.cseq!.seq} CANCEL`));
    if (reason) headers.push(header('Reason', reason));
    const cancel = new SipRequest('CANCEL', inv.uri, headers, NO_BODY);
    // The CANCEL's own outcome does not matter: the INVITE branch's 487 (or its timeout) settles it.
    this.layer.sendRequest(cancel, b.flow, { onResponse: () => undefined, onFailure: () => undefined });
    if (b.tx instanceof InviteClientTransaction) b.tx.cancelled();
  }

  /** Starts Timer C as the INVITE goes out (§16.6 step 11); each provisional but 100 restarts it (§16.7 step 2). */
  private armTimerC(b: Branch): void {
    // A restart reuses the branch's timer rather than making a new one per provisional.
    if (b.timerC) {
      b.timerC.refresh();
      return;
    }
    b.timerC = setTimeout(() => {
      if (b.final !== null || b.cancelSent) return;
      // No CANCEL before a provisional (§9.1): the branch ends as if answered 408 (§16.8), and its
      // INVITE is no longer retransmitted.
      if (!b.tx.gotProvisional) return b.tx.timeOut();
      b.timedOut = true;
      this.sendCancel(b, null);
    }, this.timerCMs);
    b.timerC.unref?.();
  }

  private clearTimerC(b: Branch): void {
    if (b.timerC) clearTimeout(b.timerC);
    b.timerC = undefined;
  }

  /** The branch has its final response: Timer C is over, and a challenge can only be answered from this response. */
  private settle(b: Branch, status: number): void {
    b.final = status;
    b.reauthorize = undefined;
    this.clearTimerC(b);
  }

  /** Keeps the best final so far, already in upstream form (§16.7 step 6). */
  private consider(u: Undecided, res: SipResponse): void {
    if (!u.best || rank(res.status) < rank(u.best.status)) {
      if (u.best && isChallenge(u.best.status) && isChallenge(res.status)) copyChallenges(u.best, res);
      u.best = res;
    } else if (isChallenge(u.best.status) && isChallenge(res.status)) copyChallenges(res, u.best);
  }

  private maybeFinish(): void {
    const u = this.undecided;
    if (!u) return;
    for (const b of this.branches.values()) if (b.final === null) return;
    if (u.cancelled) {
      this.sendFinal(u, u.best?.status === 487 ? u.best : reason(u.best ?? createResponse(u.request, 487), 487, 'Request Terminated'));
      return;
    }
    if (u.opts.onGiveUp?.(u.best, 'failed')) {
      this.decide();
      return;
    }
    let res = u.best ?? createResponse(u.request, 408);
    if (res.status === 503) res = reason(res, 500, 'Server Internal Error');
    this.sendFinal(u, this.group ? nobodyAnswered(u.request) : res);
  }

  /** The ring timeout: stop every leg; the call moves on, or the caller hears nobody answered. */
  private giveUp(): void {
    const u = this.undecided;
    if (!u) return;
    this.cancelPending(this.group ? NOBODY_ANSWERED : null);
    if (u.opts.onGiveUp?.(u.best, 'timeout')) this.decide();
    else this.sendFinal(u, nobodyAnswered(u.request));
  }

  /** No more final response may go upstream. */
  private decide(): void {
    clearTimeout(this.undecided?.ringTimer);
    this.undecided = null;
  }

  private sendFinal(u: Undecided, res: SipResponse): void {
    this.decide();
    this.server.respond(res);
    u.opts.onFailed?.(res.status);
  }

  /**
   * ACK and BYE a 2xx that came too late to be passed on, so that no leg is left connected; its
   * retransmissions (our ACK was lost) get the ACK again.
   */
  private hangUp(res: SipResponse, b: Branch, bye: boolean): void {
    const contact = res.getAll('contact')[0];
    const target = contact ? parseNameAddr(contact)?.uri : undefined;
    const seq = res.cseq!.seq;
    if (!target) return;
    const dialog = (method: string, cseq: number) => new SipRequest(method, target, [
      header('Via', this.via(b.flow)), header('Max-Forwards', '70'), header('From', res.get('from')!),
      header('To', res.get('to')!), header('Call-ID', res.callId), header('CSeq', `${cseq} ${method}`),
    ], NO_BODY);
    b.flow.send(dialog('ACK', seq).toBuffer());
    if (bye) this.layer.sendRequest(dialog('BYE', seq + 1), b.flow, { onResponse: () => undefined, onFailure: () => undefined });
  }

  /** The response as it goes upstream: without our Via, with the caller's own From and To. */
  private upstream(res: SipResponse): SipResponse {
    const out = res.clone();
    out.removeFirst('via');
    if (this.upstreamFrom !== undefined) out.set('From', this.upstreamFrom);
    if (this.upstreamTo !== undefined) {
      const tag = out.toTag;
      out.set('To', tag === null ? this.upstreamTo : `${this.upstreamTo};tag=${tag}`);
    }
    return out;
  }
}

function nobodyAnswered(req: SipRequest): SipResponse {
  const res = createResponse(req, 480);
  res.append('Reason', NOBODY_ANSWERED);
  return res;
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
