/**
 * What happens to an initial request once its target is known: calls to a user (with DND and
 * forwards), group calls (every participant's devices at once), calls out to a trunk presenting the
 * caller's SIP mapping, group chat MESSAGEs; and the call detail record of each call.
 */
import type { Logger } from '../../shared/log';
import type { CallKind } from '../../shared/model/cdrs';
import type { User, Users } from '../../shared/model/users';
import type { CdrRecorder } from '../cdr/recorder';
import { Binding, Location } from '../registrar/location';
import { Caller, Target, TargetResolver } from '../routing/target';
import { SipRequest } from '../sip/message';
import { createResponse } from '../sip/response';
import { parseSipUri } from '../sip/uri';
import { ServerTransaction } from '../transaction/server';
import { TransactionLayer } from '../transaction/table';
import { FlowRegistry } from '../transport/flow';
import type { Trunks } from '../trunk/trunks';
import { ForkOptions, NOBODY_ANSWERED, ResponseContext } from './fork';
import type { Proxy } from './proxy';

export interface CallDeps {
  domain: string;
  timerCMs: number;
  groupRingMs: number;
  location: Location;
  users: Users;
  targets: TargetResolver;
  trunks: Trunks;
  flows: FlowRegistry;
  cdr: CdrRecorder;
  log: Logger;
}

const DIALOG_FORMING = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);
/** Forwards followed in a row before the call is refused, so that forward loops end. */
const MAX_FORWARDS_CHAIN = 3;
const DEFAULT_NOANSWER_S = 20;

type Leg = { binding: Binding; label: string };

export class CallRouter {
  constructor(
    private readonly layer: TransactionLayer,
    private readonly proxy: Proxy,
    private readonly d: CallDeps,
  ) {}

  user(username: string): Promise<User | null> {
    return this.d.users.findByName(this.d.domain, username);
  }

  /** A BYE went through: the call's record is closed if it ends the answered dialog. */
  ended(bye: SipRequest): void {
    this.d.cdr.ended(bye.callId, bye.fromTag, bye.toTag);
  }

  /** Routes an initial request; a refused call is answered here too, so that it gets its record. */
  async route(req: SipRequest, tx: ServerTransaction, caller: Caller, target: Exclude<Target, { kind: 'server' }>): Promise<void> {
    if (req.method !== 'INVITE') {
      if (target.kind === 'refused') return this.fail(req, tx, target.status, target.reason);
      return this.deliver(req, tx, caller, target);
    }
    const kind: CallKind = caller.kind === 'trunk' ? 'trunk-in' : target.kind === 'trunk' ? 'trunk-out' : target.kind === 'group' ? 'group' : 'direct';
    const from = caller.kind === 'user' ? caller.user.id : `trunk:${caller.trunk.name}:${req.from?.uri ?? ''}`;
    const callee = target.kind === 'user' ? target.user.id : target.kind === 'group' ? target.group.id
      : target.kind === 'trunk' ? target.number : parseSipUri(req.uri)?.user ?? req.uri;
    const parties = [caller.kind === 'user' ? caller.user.id : null, target.kind === 'user' ? target.user.id : null].filter((p): p is string => p !== null);
    this.d.cdr.started(req.callId, kind, from, callee, parties);
    await this.call(req, tx, caller, target, 0);
  }

  private async call(req: SipRequest, tx: ServerTransaction, caller: Caller, target: Target, hops: number): Promise<void> {
    if (tx.state === 'terminated') return;
    switch (target.kind) {
      case 'refused':
        return this.fail(req, tx, target.status, target.reason);
      case 'server':
        return this.fail(req, tx, 404);
      case 'trunk':
        return this.outbound(req, tx, target);
      case 'group': {
        const exclude = caller.kind === 'user' ? caller.user.id : null;
        const legs = this.legs(target.group.participants.filter((p) => p !== exclude), await this.usernames(target.group.participants));
        if (legs.length === 0) return this.fail(req, tx, 480, undefined, NOBODY_ANSWERED);
        this.fork(req, tx, legs, { group: true, ringTimeoutMs: this.d.groupRingMs });
        return;
      }
      case 'user': {
        const u = target.user;
        // A forward chain that comes back to the caller would ring the caller's own devices.
        if (hops > 0 && caller.kind === 'user' && caller.user.id === u.id) return this.fail(req, tx, 482, 'Forward Loop');
        const fw = u.forwards ?? {};
        const canForward = hops < MAX_FORWARDS_CHAIN;
        const forward = (dest: string) => void this.retarget(req, tx, caller, dest, u, hops);
        if (u.dnd) {
          if (canForward && fw.busy?.enabled) return forward(fw.busy.destination);
          return this.fail(req, tx, 486, 'Do Not Disturb');
        }
        if (canForward && fw.unconditional?.enabled) return forward(fw.unconditional.destination);
        const legs = this.legs([u.id], new Map([[u.id, u.username]]));
        const noanswer = canForward && fw.noanswer?.enabled ? fw.noanswer : undefined;
        if (legs.length === 0) {
          if (noanswer) return forward(noanswer.destination);
          return this.fail(req, tx, 480);
        }
        this.fork(req, tx, legs, {
          ringTimeoutMs: noanswer ? (noanswer.timeout ?? DEFAULT_NOANSWER_S) * 1000 : undefined,
          onGiveUp: (best, why) => {
            const status = best?.status ?? 408;
            const dest = why === 'timeout' || status === 408 || status === 480 ? noanswer?.destination
              : status === 486 || status === 600 ? (canForward && fw.busy?.enabled ? fw.busy.destination : undefined) : undefined;
            if (dest === undefined) return false;
            forward(dest);
            return true;
          },
        });
      }
    }
  }

  private async retarget(req: SipRequest, tx: ServerTransaction, caller: Caller, dest: string, forwarder: User, hops: number): Promise<void> {
    try {
      const next = await this.d.targets.destination(dest, forwarder);
      await this.call(req, tx, caller, next, hops + 1);
    } catch (err) {
      this.d.log.error({ err, callId: req.callId }, 'forward failed');
      this.fail(req, tx, 500);
    }
  }

  /** Non-INVITE requests: to a user's devices, to a group as its chat, or out to the trunk. */
  private async deliver(req: SipRequest, tx: ServerTransaction, caller: Caller, target: Exclude<Target, { kind: 'refused' | 'server' }>): Promise<void> {
    if (target.kind === 'trunk') return this.outbound(req, tx, target);
    if (target.kind === 'group') {
      if (req.method !== 'MESSAGE') return this.fail(req, tx, 405, 'A Group Takes Calls And Messages Only');
      // The group's chat: every participant's devices but the sender's.
      const sender = caller.kind === 'user' ? caller.user.id : null;
      const legs = this.legs(target.group.participants.filter((p) => p !== sender), await this.usernames(target.group.participants));
      if (legs.length === 0) return this.fail(req, tx, 480);
      this.fork(req, tx, legs, {});
      return;
    }
    const legs = this.legs([target.user.id], new Map([[target.user.id, target.user.username]]));
    if (legs.length === 0) return this.fail(req, tx, 480);
    this.fork(req, tx, legs, {});
  }

  private async usernames(ids: string[]): Promise<Map<string, string>> {
    const users = await this.d.users.docs.getMany(ids);
    return new Map(users.map((u) => [u.id, u.username]));
  }

  /** The devices of these users: the latest flow of each +sip.instance, every plain Contact. */
  private legs(userIds: string[], names: Map<string, string>): Leg[] {
    const out: Leg[] = [];
    for (const id of userIds) {
      const name = names.get(id);
      if (name === undefined) continue;
      const byInstance = new Map<string, Binding>();
      for (const b of this.d.location.lookup(`${name}@${this.d.domain}`)) {
        const k = b.instance ?? `uri:${b.uri}`;
        const cur = byInstance.get(k);
        if (!cur || cur.updatedAt < b.updatedAt) byInstance.set(k, b);
      }
      for (const binding of byInstance.values()) out.push({ binding, label: id });
    }
    return out;
  }

  private fork(req: SipRequest, tx: ServerTransaction, legs: Leg[], policy: Partial<ForkOptions>): void {
    const ctx = this.context(req, tx, policy);
    let sent = 0;
    for (const { binding, label } of legs) {
      const flow = this.d.flows.get(binding.flowId);
      if (!flow || !flow.isOpen()) {
        this.d.location.remove(binding);
        continue;
      }
      const out = req.clone();
      out.uri = binding.uri;
      for (let i = binding.path.length - 1; i >= 0; i--) out.prepend('Route', binding.path[i]);
      if (DIALOG_FORMING.has(req.method)) this.proxy.recordRoute(out, tx.flow, flow, req.fromTag ?? '');
      out.prepend('Via', this.proxy.ourVia(flow));
      ctx.addBranch(out, flow, label);
      sent++;
    }
    this.d.log.debug({ callId: req.callId, method: req.method, branches: sent }, 'request forked');
    if (sent === 0) this.fail(req, tx, 480, undefined, policy.group ? NOBODY_ANSWERED : undefined);
  }

  /** Out to the trunk, presenting the caller's mapped identity; the trunk's challenge is answered. */
  private outbound(req: SipRequest, tx: ServerTransaction, target: Extract<Target, { kind: 'trunk' }>): void {
    const { trunks } = this.d;
    const flow = trunks.flow(target.trunk);
    const out = req.clone();
    out.uri = trunks.requestUri(target.trunk, target.number);
    const identity = `<sip:${target.presented}@${this.d.domain}>`;
    out.set('From', `${identity};tag=${req.fromTag ?? ''}`);
    out.set('To', `<${out.uri}>`);
    out.set('P-Asserted-Identity', identity);
    if (DIALOG_FORMING.has(req.method)) this.proxy.recordRoute(out, tx.flow, flow, req.fromTag ?? '');
    out.prepend('Via', this.proxy.ourVia(flow));
    const ctx = this.context(req, tx, { upstreamFrom: req.get('from'), upstreamTo: req.get('to') });
    ctx.addBranch(out, flow, null, (challenge) => trunks.answer(target.trunk, out, challenge, this.proxy.ourVia(flow)));
  }

  private context(req: SipRequest, tx: ServerTransaction, policy: Partial<ForkOptions>): ResponseContext {
    const call = req.method === 'INVITE';
    const ctx = new ResponseContext(this.layer, tx, req, {
      timerCMs: this.d.timerCMs,
      ...policy,
      onAnswered: call ? (label, res) => this.d.cdr.answered(req.callId, label, res.status, [res.fromTag ?? '', res.toTag ?? '']) : undefined,
      onFailed: call ? (status) => this.d.cdr.failed(req.callId, status) : undefined,
    }, this.proxy.ourVia);
    this.proxy.contexts.set(tx, ctx);
    return ctx;
  }

  private fail(req: SipRequest, tx: ServerTransaction, status: number, reason?: string, reasonHeader?: string): void {
    const res = createResponse(req, status, reason);
    if (reasonHeader) res.append('Reason', reasonHeader);
    tx.respond(res);
    if (req.method === 'INVITE') this.d.cdr.failed(req.callId, status);
  }
}
