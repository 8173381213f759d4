/**
 * The request path of the stateful proxy: what to do with each new request. REGISTER goes to the
 * registrar; OPTIONS to the server itself is answered here; in-dialog requests follow our
 * Record-Route flow token; initial requests are authenticated (or trusted as coming from a trunk),
 * resolved to a target and forked (see ./call for calls).
 */
import type { Logger } from '../../shared/log';
import { RequestAuthenticator } from '../auth/authenticate';
import { Registrar } from '../registrar/registrar';
import { Caller, TargetResolver } from '../routing/target';
import { SipRequest } from '../sip/message';
import { createResponse } from '../sip/response';
import { parseSipUri } from '../sip/uri';
import { InviteServerTransaction, NonInviteServerTransaction, ServerTransaction } from '../transaction/server';
import { TransactionLayer, TransactionUser } from '../transaction/table';
import { Flow, FlowRegistry } from '../transport/flow';
import type { Trunks } from '../trunk/trunks';
import { CallDeps, CallRouter } from './call';
import { ResponseContext } from './fork';
import { FlowToken, RecordRoute } from './record-route';

export interface ProxyOptions {
  domain: string;
  timerCMs: number;
}

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, INFO, UPDATE, PRACK, REFER, SUBSCRIBE, NOTIFY';
const SUPPORTED = new Set(['outbound', 'path']);

export class Proxy implements TransactionUser {
  private layer!: TransactionLayer;
  private calls!: CallRouter;
  /** The response context of each INVITE server transaction, for CANCEL (a forward replaces it). */
  readonly contexts = new WeakMap<ServerTransaction, ResponseContext>();

  constructor(
    private readonly opts: ProxyOptions,
    private readonly registrar: Registrar,
    private readonly auth: RequestAuthenticator,
    private readonly targets: TargetResolver,
    private readonly trunks: Trunks,
    private readonly rr: RecordRoute,
    private readonly flows: FlowRegistry,
    private readonly log: Logger,
    private readonly callDeps: CallDeps,
  ) {}

  /** The transaction layer is built around this proxy (its user), so it arrives after construction. */
  attach(layer: TransactionLayer): void {
    this.layer = layer;
    this.calls = new CallRouter(layer, this, this.callDeps);
  }

  /** Our Via for a request sent on `flow`, with a fresh branch. */
  ourVia = (flow: Flow): string => this.rr.via(flow.transport, this.layer.newBranch());

  onRequest(req: SipRequest, tx: ServerTransaction): void {
    if (req.method === 'INVITE') tx.respond(createResponse(req, 100));
    this.route(req, tx).catch((err) => {
      this.log.error({ err, method: req.method, callId: req.callId }, 'request handling failed');
      if (tx.state === 'trying' || tx.state === 'proceeding') tx.respond(createResponse(req, 500));
      // A call whose record was started must not stay "ringing" in the live view.
      if (req.method === 'INVITE') this.callDeps.cdr.failed(req.callId, 500);
    });
  }

  onCancel(cancel: SipRequest, tx: NonInviteServerTransaction, invite: InviteServerTransaction | null): void {
    const ctx = invite ? this.contexts.get(invite) : undefined;
    if (!invite || !ctx) {
      tx.respond(createResponse(cancel, 481));
      return;
    }
    tx.respond(createResponse(cancel, 200));
    ctx.cancel(cancel.get('reason') ?? null);
  }

  onAck(ack: SipRequest, flow: Flow): void {
    if (!ack.toTag) return;
    const next = this.inDialogFlow(ack, flow);
    if (!next || next === 'gone' || !this.decrementMaxForwards(ack)) return;
    ack.prepend('Via', this.ourVia(next));
    next.send(ack.toBuffer());
  }

  private async route(req: SipRequest, tx: ServerTransaction): Promise<void> {
    if (req.toTag) return this.routeInDialog(req, tx);
    this.popOwnRoutes(req);
    if (req.method === 'REGISTER' || (this.targets.isServer(req.uri) && !req.has('route'))) {
      const unsupported = this.unsupported(req.getAll('require'));
      if (unsupported.length > 0) return this.refuseExtensions(req, tx, unsupported);
      if (req.method === 'REGISTER') return this.registrar.handle(req, tx);
      return this.serveLocally(req, tx);
    }
    const unsupported = this.unsupported(req.getAll('proxy-require'));
    if (unsupported.length > 0) return this.refuseExtensions(req, tx, unsupported);
    if (!this.decrementMaxForwards(req)) return tx.respond(createResponse(req, 483));
    if (req.has('route')) return tx.respond(createResponse(req, 403, 'Route Not Allowed'));

    const caller = await this.identify(req, tx);
    if (!caller) return;
    const target = await this.targets.resolve(req.uri, caller);
    if (target.kind === 'server') return this.serveLocally(req, tx);
    await this.calls.route(req, tx, caller, target);
  }

  /** The caller: a trunk by its source address, else an authenticated local user sending as itself. */
  private async identify(req: SipRequest, tx: ServerTransaction): Promise<Caller | null> {
    const trunk = this.trunks.fromSource(tx.flow);
    if (trunk) return { kind: 'trunk', trunk };
    const auth = await this.auth.check(req, 'proxy-authorization');
    if (!auth.ok) {
      const res = createResponse(req, 407);
      res.append('Proxy-Authenticate', this.auth.challenge(auth.stale));
      tx.respondStateless(res);
      return null;
    }
    // Credentials for our realm were consumed here: the callee has no business seeing them.
    req.headers = req.headers.filter((h) => h.key !== 'proxy-authorization' || !h.value.includes(`realm="${this.auth.realm}"`));
    const from = parseSipUri(req.from!.uri);
    const user = from && from.user === auth.username && from.host === this.opts.domain ? await this.calls.user(auth.username) : null;
    if (!user) {
      tx.respond(createResponse(req, 403, 'From Does Not Match Credentials'));
      return null;
    }
    return { kind: 'user', user };
  }

  /** One Record-Route per side when the two sides use different transports (RFC 5658). */
  recordRoute(req: SipRequest, callerFlow: Flow, calleeFlow: Flow, callerTag: string): void {
    const token = this.rr.encode({ caller: callerFlow.id, callee: calleeFlow.id, callerTag });
    const callerSide = this.rr.value(callerFlow.transport, token);
    const calleeSide = this.rr.value(calleeFlow.transport, token);
    req.prepend('Record-Route', callerSide);
    if (calleeSide !== callerSide) req.prepend('Record-Route', calleeSide);
  }

  private async routeInDialog(req: SipRequest, tx: ServerTransaction): Promise<void> {
    const next = this.inDialogFlow(req, tx.flow);
    if (!next) return tx.respond(createResponse(req, 404, 'No Route To Dialog Peer'));
    if (next === 'gone' || !next.isOpen()) return tx.respond(createResponse(req, 480, 'Dialog Peer Gone'));
    if (!this.decrementMaxForwards(req)) return tx.respond(createResponse(req, 483));
    const ctx = new ResponseContext(this.layer, tx, req, { timerCMs: this.opts.timerCMs }, this.ourVia);
    this.contexts.set(tx, ctx);
    const out = req.clone();
    out.prepend('Via', this.ourVia(next));
    ctx.addBranch(out, next);
    if (req.method === 'BYE') this.calls.ended(req);
  }

  /**
   * Pops our Route values and picks the flow their token names for this request's direction:
   * null when there is no token of ours, 'gone' when that connection has closed.
   */
  private inDialogFlow(req: SipRequest, from: Flow): Flow | 'gone' | null {
    const token = this.popOwnRoutes(req);
    if (!token) return null;
    const id = req.fromTag === token.callerTag ? token.callee : token.caller;
    if (id === from.id && token.caller !== token.callee) return null;
    return this.flows.get(id) ?? 'gone';
  }

  /** Removes the top Route values that name this server; returns the first flow token among them. */
  private popOwnRoutes(req: SipRequest): FlowToken | null {
    let token: FlowToken | null = null;
    for (;;) {
      const top = req.first('route');
      const ours = top === undefined ? null : this.rr.ours(top);
      if (!ours) return token;
      token ??= ours.token;
      req.removeFirst('route');
    }
  }

  private serveLocally(req: SipRequest, tx: ServerTransaction): void {
    if (req.method !== 'OPTIONS') {
      tx.respond(createResponse(req, req.method === 'INVITE' ? 404 : 405));
      return;
    }
    const res = createResponse(req, 200);
    res.append('Allow', ALLOW);
    res.append('Supported', [...SUPPORTED].join(', '));
    res.append('Accept', 'application/sdp');
    tx.respond(res);
  }

  private unsupported(tags: string[]): string[] {
    return tags.filter((t) => t !== '' && !SUPPORTED.has(t.toLowerCase()));
  }

  private refuseExtensions(req: SipRequest, tx: ServerTransaction, tags: string[]): void {
    const res = createResponse(req, 420);
    res.append('Unsupported', tags.join(', '));
    tx.respond(res);
  }

  /** Decrements Max-Forwards (adding 70 when absent); false when it was already 0. */
  private decrementMaxForwards(req: SipRequest): boolean {
    const mf = req.get('max-forwards');
    const n = mf === undefined ? 70 : Number(mf);
    if (n <= 0) return false;
    req.set('Max-Forwards', String(n - 1));
    return true;
  }
}
