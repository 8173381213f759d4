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
import { Generations } from './generations';
import { Linger } from './linger';
import { Timers } from './timers';
import { Transaction, TransactionHome } from './transaction';

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

/** The response as a string: a Buffer would be a slice that keeps a whole 8 KB pool slab alive. */
type Absorbed = { key: string; text: string; flow: Flow };

/**
 * Final responses of completed non-INVITE server transactions on UDP, kept for Timer J to answer
 * retransmissions of their requests: under REGISTER load these are most of the heap. One map, so
 * that a new request costs one lookup; the generations only say when each entry goes.
 */
class Absorber {
  private entries = new Map<string, Absorbed>();
  private generations: Generations<Absorbed[]>;
  private closed = false;

  constructor(timerJ: number) {
    this.generations = new Generations<Absorbed[]>(timerJ, () => [], (expired) => {
      for (const e of expired) if (this.entries.get(e.key) === e) this.entries.delete(e.key);
    });
  }

  add(key: string, bytes: Buffer, flow: Flow): void {
    // After close no generation ages out any more: nothing may be kept.
    if (this.closed) return;
    const e = { key, text: bytes.toString('latin1'), flow };
    this.entries.set(key, e);
    this.generations.newest.push(e);
  }

  /** Resends the stored response of a retransmitted request; false when there is none. */
  replay(key: string): boolean {
    const e = this.entries.get(key);
    if (!e) return false;
    e.flow.send(Buffer.from(e.text, 'latin1'));
    return true;
  }

  close(): void {
    this.closed = true;
    this.generations.close();
    this.entries.clear();
  }
}

export class TransactionLayer implements TransactionHome {
  private servers = new Map<string, ServerTransaction>();
  // Client transactions by branch alone: our branches are unique per request, except that a CANCEL
  // shares its INVITE's (RFC 3261 §9.1), so CANCELs have their own map. No key to build per response.
  private clients = new Map<string, ClientTransaction>();
  private cancels = new Map<string, ClientTransaction>();
  private absorber: Absorber;
  readonly linger = new Linger();
  private branchSeq = 0;

  constructor(
    private readonly tu: TransactionUser,
    private readonly replyFlow: ReplyFlow,
    readonly timers = new Timers(),
  ) {
    this.absorber = new Absorber(timers.J);
  }

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
    // Only non-INVITE responses are absorbed.
    if (req.method !== 'INVITE' && this.absorber.replay(key)) return;
    const reply = this.replyFlow(req, flow);
    let tx: ServerTransaction;
    if (req.method === 'INVITE') tx = new InviteServerTransaction(key, flow, reply, this);
    else tx = new NonInviteServerTransaction(key, flow, reply, this);
    this.servers.set(key, tx);
    if (req.method === 'CANCEL') {
      const invite = this.servers.get(serverKey(req, 'INVITE'));
      this.tu.onCancel(req, tx as NonInviteServerTransaction, invite instanceof InviteServerTransaction ? invite : null);
      return;
    }
    this.tu.onRequest(req, tx);
  }

  /** Ends every transaction and its timers (server shutdown). */
  close(): void {
    this.linger.close();
    for (const tx of [...this.servers.values(), ...this.clients.values(), ...this.cancels.values()]) tx.terminate();
    this.absorber.close();
  }

  absorb(key: string, finalBytes: Buffer, replyFlow: Flow): void {
    this.absorber.add(key, finalBytes, replyFlow);
  }

  forget(tx: Transaction): void {
    if (this.servers.get(tx.key) === tx) this.servers.delete(tx.key);
    else if (this.clients.get(tx.key) === tx) this.clients.delete(tx.key);
    else if (this.cancels.get(tx.key) === tx) this.cancels.delete(tx.key);
  }

  /** Returns false when the response matched no client transaction. */
  receiveResponse(res: SipResponse): boolean {
    const via = res.topVia;
    if (!via || !via.branch || !res.cseq) return false;
    const method = res.cseq.method;
    const tx = (method === 'CANCEL' ? this.cancels : this.clients).get(via.branch);
    // RFC 3261 §17.1.3: the branch and the CSeq method both match.
    if (!tx || tx.method !== method) return false;
    tx.receive(res);
    return true;
  }

  /** Sends `req` (its top Via already carrying a branch from newBranch()) in a new client transaction. */
  sendRequest(req: SipRequest, flow: Flow, user: ClientTransactionUser): ClientTransaction {
    const branch = req.topVia!.branch!;
    const tx = req.method === 'INVITE'
      ? new InviteClientTransaction(branch, req, flow, user, this)
      : new NonInviteClientTransaction(branch, req, flow, user, this);
    (req.method === 'CANCEL' ? this.cancels : this.clients).set(branch, tx);
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
