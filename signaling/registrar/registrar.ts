/** REGISTER processing (RFC 3261 §10.3, RFC 5626 §6, RFC 3327). */
import { RequestAuthenticator } from '../auth/authenticate';
import { own, SipRequest, SipResponse } from '../sip/message';
import { NameAddr, parseNameAddr } from '../sip/name-addr';
import { createResponse } from '../sip/response';
import { parseSipUri } from '../sip/uri';
import { ServerTransaction } from '../transaction/server';
import type { Flow } from '../transport/flow';
import { Binding, Location } from './location';
import type { Logger } from '../../shared/log';

export interface RegistrarOptions {
  domain: string;
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
}

export class Registrar {
  constructor(
    private readonly opts: RegistrarOptions,
    private readonly auth: RequestAuthenticator,
    readonly location: Location,
    private readonly log: Logger,
  ) {}

  async handle(req: SipRequest, tx: ServerTransaction): Promise<void> {
    const res = await this.process(req, tx.flow);
    if (res.status === 401) tx.respondStateless(res);
    else tx.respond(res);
  }

  private async process(req: SipRequest, flow: Flow): Promise<SipResponse> {
    const toUri = parseSipUri(req.to!.uri);
    if (!toUri || !toUri.user) return createResponse(req, 400, 'Bad To: the address-of-record must be a SIP URI');
    if (toUri.host !== this.opts.domain) return createResponse(req, 403, 'Domain Not Served');
    const auth = await this.auth.check(req, 'authorization');
    if (!auth.ok) {
      const res = createResponse(req, 401);
      res.append('WWW-Authenticate', this.auth.challenge(auth.stale));
      return res;
    }
    if (auth.username !== toUri.user) return createResponse(req, 403, 'Not Allowed To Register This AOR');
    const aor = `${toUri.user}@${toUri.host}`;
    const contacts = req.getAll('contact');
    const headerExpires = req.get('expires');
    const now = Date.now();
    const cseq = req.cseq!.seq;

    if (contacts.includes('*')) {
      if (contacts.length !== 1 || headerExpires !== '0') return createResponse(req, 400, 'Invalid Contact: *');
      for (const b of this.location.lookup(aor, now)) {
        if (b.callId === req.callId && cseq <= b.cseq) return createResponse(req, 400, 'CSeq Out Of Order');
      }
      for (const b of this.location.lookup(aor, now)) this.location.remove(b);
      return this.ok(req, aor, now);
    }

    const updates: Array<{ na: NameAddr; expires: number }> = [];
    for (const c of contacts) {
      const na = parseNameAddr(c)!;
      if (!parseSipUri(na.uri)) return createResponse(req, 400, 'Bad Contact URI');
      const raw = na.params.get('expires') ?? headerExpires;
      let expires = raw === undefined || raw === null ? this.opts.defaultExpires : Number(raw);
      if (!Number.isInteger(expires) || expires < 0) return createResponse(req, 400, 'Bad Contact expires');
      if (expires > 0 && expires < this.opts.minExpires) {
        const res = createResponse(req, 423);
        res.append('Min-Expires', String(this.opts.minExpires));
        return res;
      }
      expires = Math.min(expires, this.opts.maxExpires);
      updates.push({ na, expires });
    }
    for (const { na } of updates) {
      const existing = this.location.get(aor, bindingKey(na));
      if (existing && existing.callId === req.callId && cseq <= existing.cseq) {
        return createResponse(req, 400, 'CSeq Out Of Order');
      }
    }
    const path = req.getAll('path');
    // Shown in the live view and published on every refresh: a line, not a message's worth.
    const userAgent = req.get('user-agent')?.slice(0, 256) ?? null;
    for (const { na, expires } of updates) {
      const key = bindingKey(na);
      const existing = this.location.get(aor, key);
      if (expires === 0) {
        if (existing) this.location.remove(existing);
        continue;
      }
      const instance = na.params.get('+sip.instance');
      const regId = na.params.get('reg-id');
      const b: Binding = {
        aor: own(aor), key: own(key), uri: own(na.uri), params: own(stripExpires(na.rawParams)),
        instance: instance ? own(instance) : null, regId: regId ? own(regId) : null,
        expiresAt: now + expires * 1000, callId: own(req.callId), cseq, flowId: flow.id, transport: flow.transport,
        userAgent: userAgent === null ? null : own(userAgent), path: path.map(own),
        registeredAt: existing?.flowId === flow.id ? existing.registeredAt : now, updatedAt: now,
      };
      this.location.save(b);
    }
    this.log.debug({ aor, flow: flow.id, contacts: updates.length, expires: updates.map((u) => u.expires) }, 'registration updated');
    const res = this.ok(req, aor, now);
    const outbound = /(^|,)\s*outbound\s*(,|$)/i.test(req.getAll('supported').join(','));
    if (outbound && updates.some((u) => u.na.params.has('reg-id'))) res.append('Require', 'outbound');
    for (const p of path) res.append('Path', p);
    return res;
  }

  /** 200 OK listing every binding of the AOR with its remaining lifetime (RFC 3261 §10.3 step 8). */
  private ok(req: SipRequest, aor: string, now: number): SipResponse {
    const res = createResponse(req, 200);
    for (const b of this.location.lookup(aor, now)) {
      const left = Math.max(0, Math.round((b.expiresAt - now) / 1000));
      res.append('Contact', `<${b.uri}>${b.params};expires=${left}`);
    }
    res.append('Supported', 'outbound, path');
    res.append('Date', httpDate(now));
    return res;
  }
}

// The Date header changes once a second; formatting it for every 200 would be wasted work.
let dateSecond = -1;
let dateText = '';
function httpDate(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

function bindingKey(na: NameAddr): string {
  const instance = na.params.get('+sip.instance');
  if (instance) return `i:${instance}|${na.params.get('reg-id') ?? ''}`;
  return `u:${na.uri}`;
}

function stripExpires(rawParams: string): string {
  return rawParams.replace(/\s*;\s*expires\s*=\s*[^;]*/gi, '');
}
