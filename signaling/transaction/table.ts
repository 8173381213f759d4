/**
 * The transaction layer: matches requests and responses to transactions (RFC 3261 §17.1.3, §17.2.3)
 * and hands everything else to its single TransactionUser.
 */
import { randomBytes } from 'node:crypto';
import { SipRequest, SipResponse } from '../sip/message';
import { MAGIC_COOKIE, sentBy } from '../sip/via';
import { Flow } from '../transport/flow';
import { ClientTransaction, ClientTransactionUser, InviteClientTransaction, NonInviteClientTransaction } from './client';
import { InviteServerTransaction, NonInviteServerTransaction, ServerTransaction } from './server';
import { Timers } from './timers';

export interface TransactionUser {
  /** A new request, with the server transaction that will carry its responses. */
  onRequest(req: SipRequest, tx: ServerTransaction): void;
  /** A CANCEL (already answered 200 when it matched) and the INVITE transaction it targets, if any. */
  onCancel(cancel: SipRequest, tx: NonInviteServerTransaction, invite: InviteServerTransaction | null): void;
  /** An ACK that matched no transaction: the end-to-end ACK for a 2xx. */
  onAck(ack: SipRequest, flow: Flow): void;
}

/** Where a response to a request received on `flow` must be sent (RFC 3261 §18.2.2, RFC 3581). */
export type ReplyFlow = (req: SipRequest, flow: Flow) => Flow;

const BRANCH_PREFIX = MAGIC_COOKIE + randomBytes(4).toString('hex');

type Absorbed = { bytes: Buffer; flow: Flow };

/** Generations of absorbed responses: each entry lives between Timer J and 1.25 × Timer J. */
const GENERATIONS = 5;

/**
 * Final responses of completed non-INVITE server transactions on UDP, for Timer J: generations of
 * entries, the oldest dropped every Timer J / (GENERATIONS - 1). With two generations swapped every
 * Timer J an entry would live up to twice as long as it must; under REGISTER load these entries are
 * most of the heap.
 */
class Absorber {
  /** Newest first. */
  private generations: Array<Map<string, Absorbed>> = Array.from({ length: GENERATIONS }, () => new Map());
  private timer: NodeJS.Timeout;

  constructor(timerJMs: number) {
    this.timer = setInterval(() => {
      this.generations.pop();
      this.generations.unshift(new Map());
    }, timerJMs / (GENERATIONS - 1));
    this.timer.unref();
  }

  add(key: string, bytes: Buffer, flow: Flow): void {
    this.generations[0].set(key, { bytes, flow });
  }

  /** Resends the stored response of a retransmitted request; false when there is none. */
  replay(key: string): boolean {
    for (const g of this.generations) {
      const e = g.get(key);
      if (e) {
        e.flow.send(e.bytes);
        return true;
      }
    }
    return false;
  }

  close(): void {
    clearInterval(this.timer);
  }
}

export class TransactionLayer {
  private servers = new Map<string, ServerTransaction>();
  private clients = new Map<string, ClientTransaction>();
  private absorber = new Absorber(Timers.J(false));
  private branchSeq = 0;

  constructor(private readonly tu: TransactionUser, private readonly replyFlow: ReplyFlow) {}

  /** A branch unique to this process (RFC 3261 §8.1.1.7). */
  newBranch(): string {
    return `${BRANCH_PREFIX}.${(this.branchSeq++).toString(36)}`;
  }

  receiveRequest(req: SipRequest, flow: Flow): void {
    const method = req.method === 'ACK' ? 'INVITE' : req.method;
    const key = serverKey(req, method);
    const existing = this.servers.get(key);
    if (req.method === 'ACK') {
      if (existing instanceof InviteServerTransaction && existing.state !== 'accepted') existing.onAck();
      else this.tu.onAck(req, flow);
      return;
    }
    if (existing) {
      existing.onRetransmission();
      return;
    }
    if (this.absorber.replay(key)) return;
    const reply = this.replyFlow(req, flow);
    let tx: ServerTransaction;
    if (req.method === 'INVITE') tx = new InviteServerTransaction(key, flow, reply);
    else {
      const nit = new NonInviteServerTransaction(key, flow, reply);
      nit.absorb = (bytes, to) => this.absorber.add(key, bytes, to);
      tx = nit;
    }
    this.servers.set(key, tx);
    tx.whenTerminated(() => this.servers.delete(key));
    if (req.method === 'CANCEL') {
      const invite = this.servers.get(serverKey(req, 'INVITE'));
      this.tu.onCancel(req, tx as NonInviteServerTransaction, invite instanceof InviteServerTransaction ? invite : null);
      return;
    }
    this.tu.onRequest(req, tx);
  }

  /** Ends every transaction and its timers (server shutdown). */
  close(): void {
    for (const tx of [...this.servers.values(), ...this.clients.values()]) tx.terminate();
    this.absorber.close();
  }

  /** Returns false when the response matched no client transaction. */
  receiveResponse(res: SipResponse): boolean {
    const via = res.topVia;
    if (!via || !via.branch || !res.cseq) return false;
    const tx = this.clients.get(`${via.branch}|${res.cseq.method}`);
    if (!tx) return false;
    tx.receive(res);
    return true;
  }

  /** Sends `req` (its top Via already carrying a branch from newBranch()) in a new client transaction. */
  sendRequest(req: SipRequest, flow: Flow, user: ClientTransactionUser): ClientTransaction {
    const key = `${req.topVia!.branch}|${req.method}`;
    const tx = req.method === 'INVITE'
      ? new InviteClientTransaction(key, req, flow, user)
      : new NonInviteClientTransaction(key, req, flow, user);
    this.clients.set(key, tx);
    tx.whenTerminated(() => this.clients.delete(key));
    tx.start();
    return tx;
  }
}

/**
 * Built with join, which copies into a flat string: a template literal's result would point to its
 * parts, slices of the received message's text, and so keep all of that text alive for as long as a
 * lingering transaction (or the absorber) keeps the key.
 */
function serverKey(req: SipRequest, method: string): string {
  const via = req.topVia!;
  if (via.branch && via.branch.length > MAGIC_COOKIE.length && via.branch.startsWith(MAGIC_COOKIE)) {
    return [via.branch, sentBy(via), method].join('|');
  }
  // RFC 2543 peers have no usable branch: match on the dialog-ish fields instead (§17.2.3).
  return ['2543', req.callId, req.cseq!.seq, req.fromTag ?? '', via.raw, method].join('|');
}
