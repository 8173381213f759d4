/**
 * Wires the signaling core together: transports → parser/checks → transaction layer → proxy
 * (registrar, fork) → location and store. Nothing else knows all the pieces.
 */
import { RequestAuthenticator } from './auth/authenticate';
import { DigestAuthenticator } from './auth/digest';
import { Proxy } from './proxy/proxy';
import { RecordRoute } from './proxy/record-route';
import { Location } from './registrar/location';
import { Registrar } from './registrar/registrar';
import { TargetResolver } from './routing/target';
import { CdrRecorder } from './cdr/recorder';
import { LiveFeed } from './live/feed';
import { Trunks } from './trunk/trunks';
import { SipRequest, SipResponse } from './sip/message';
import { parseMessage } from './sip/parser';
import { createResponse } from './sip/response';
import { checkRequest, isSoundResponse } from './sip/validate';
import { TransactionLayer } from './transaction/table';
import { Timers } from './transaction/timers';
import { Flow, FlowHandler, FlowRegistry } from './transport/flow';
import { TcpTransport } from './transport/tcp';
import { UdpTransport } from './transport/udp';
import type { DatagramIo } from './transport/datagram';
import { WsTransport } from './transport/ws';
import type { TokenService } from '../shared/auth/jwt';
import type { Config } from '../shared/config';
import type { LiveState } from '../shared/live';
import type { Logger } from '../shared/log';
import { Cdrs } from '../shared/model/cdrs';
import { Groups } from '../shared/model/groups';
import { SipMappings } from '../shared/model/sip-mappings';
import { Users } from '../shared/model/users';
import type { Store } from '../shared/store';

export interface SignalingServer {
  wsPort: number;
  sipPort: number;
  location: Location;
  close(): Promise<void>;
}

/**
 * UDP and TCP on one port number. With port 0 the number UDP was given may be taken for TCP (by any
 * outgoing connection's local port): then both start over on a new number.
 */
async function listenSip(handler: FlowHandler, port: number, bind: string, maxMessage: number, io: DatagramIo): Promise<{ udp: UdpTransport; tcp: TcpTransport; sipPort: number }> {
  for (let attempt = 1; ; attempt++) {
    const udp = new UdpTransport(handler, io);
    const tcp = new TcpTransport(handler, maxMessage);
    const sipPort = await udp.listen(port, bind);
    try {
      await tcp.listen(sipPort, bind);
      return { udp, tcp, sipPort };
    } catch (err) {
      await udp.close();
      if (port !== 0 || attempt === 10 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
}

export async function startSignaling(config: Config, store: Store, live: LiveState, log: Logger, tokens?: TokenService): Promise<SignalingServer> {
  const s = config.server;
  const users = new Users(store);
  const feed = new LiveFeed(live, (aor) => location.lookup(aor));
  const location = new Location((aor) => feed.registrationChanged(aor));
  const digest = new DigestAuthenticator();
  const auth = new RequestAuthenticator(digest, {
    ha1: (realm, username) => users.digestHa1(realm, username),
    exists: async (realm, username) => (await users.findByName(realm, username)) !== null,
  }, s.domain, tokens);

  const handler: FlowHandler = {
    onMessage: (data, flow) => receive(data, flow),
    onFlowClosed: (flow) => {
      log.debug({ flow: flow.id, transport: flow.transport }, 'flow closed');
      location.flowClosed(flow.id);
    },
  };
  const ws = new WsTransport(handler, {
    maxPayload: s.ws_max_payload,
    pingIntervalMs: s.ws_ping_interval > 0 ? s.ws_ping_interval * 1000 : 2 ** 31 - 1,
    tls: s.tls_cert && s.tls_key ? { cert: s.tls_cert, key: s.tls_key } : undefined,
    io: s.ws_io,
  });
  const wsPort = await ws.listen(s.ws_port, s.bind);
  const { udp, tcp, sipPort } = await listenSip(handler, s.sip_port, s.bind, s.ws_max_payload, s.udp_io);
  const flows: FlowRegistry = {
    get(id: string): Flow | undefined {
      if (id.startsWith('w')) return ws.get(id);
      if (id.startsWith('t')) return tcp.get(id);
      const m = /^u(.+):(\d+)$/.exec(id);
      return m ? udp.flow(m[1], Number(m[2])) : undefined;
    },
  };

  const host = s.bind === '0.0.0.0' || s.bind === '::' ? s.domain : s.bind;
  const rr = new RecordRoute({ host, wsPort, wsSecure: ws.secure, sipPort });
  const registrar = new Registrar({
    domain: s.domain, minExpires: config.registrar.min_expires, maxExpires: config.registrar.max_expires,
    defaultExpires: config.registrar.default_expires,
  }, auth, location, log);
  const groups = new Groups(store);
  const mappings = new SipMappings(store, { realm: s.domain });
  const trunks = new Trunks(config.trunks, { udp: (a, p) => udp.flow(a, p), tcp: (a, p) => tcp.connect(a, p) });
  const targets = new TargetResolver(s.domain, [host, s.bind], { users, groups, mappings, trunks, groupsEnabled: config.usersGroupEnabled });
  const cdr = new CdrRecorder(new Cdrs(store), feed, log);
  const proxy = new Proxy(
    { domain: s.domain, timerCMs: config.proxy.timer_c * 1000 }, registrar, auth, targets, trunks, rr, flows, log,
    { domain: s.domain, timerCMs: config.proxy.timer_c * 1000, groupRingMs: config.groups.ring_timeout * 1000,
      location, users, targets, trunks, flows, cdr, log },
  );
  /** Where responses go (RFC 3261 §18.2.2, RFC 3581): the connection, or the UDP source address. */
  const replyFlow = (req: SipRequest, flow: Flow): Flow => {
    // The address is always the packet's source, never a host named in the message.
    const via = req.topVia;
    if (flow.reliable || !via || via.params.has('rport')) return flow;
    const port = via.port ?? 5060;
    // Mostly the source port itself: then the flow that brought the request serves (one object fewer per transaction).
    return port === flow.remotePort ? flow : udp.flow(flow.remoteAddress, port);
  };
  const layer = new TransactionLayer(proxy, replyFlow, new Timers(config.timers));
  proxy.attach(layer);

  function receive(data: Buffer, flow: Flow): void {
    let msg;
    try {
      msg = parseMessage(data);
    } catch (err) {
      log.debug({ err, flow: flow.id }, 'unparsable message dropped');
      return;
    }
    if (!msg) return;
    if (msg instanceof SipResponse) {
      if (isSoundResponse(msg)) layer.receiveResponse(msg);
      return;
    }
    const req = msg as SipRequest;
    const defect = checkRequest(req);
    if (defect) {
      // A response without any Via could never be matched; an ACK is never answered.
      if (req.method === 'ACK' || !req.has('via')) return;
      const res = createResponse(req, defect.status, defect.reason);
      if (defect.status === 501) res.append('Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, INFO, UPDATE');
      replyFlow(req, flow).send(res.toBuffer());
      return;
    }
    layer.receiveRequest(req, flow);
  }

  log.info({ wsPort, sipPort, bind: s.bind, domain: s.domain, secure: ws.secure, udpIo: udp.kind, wsIo: ws.kind }, 'signaling listening');
  return {
    wsPort, sipPort, location,
    async close() {
      layer.close();
      await Promise.all([ws.close(), udp.close(), tcp.close()]);
      await cdr.close();
      feed.close();
      location.close();
      digest.close();
    },
  };
}
