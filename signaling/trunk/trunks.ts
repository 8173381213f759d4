/** SIP trunks from wac.ini: who is trusted as a trunk, where calls to a trunk go, and its credentials. */
import type { TrunkConfig } from '../../shared/config';
import { answerChallenge } from '../auth/digest';
import { SipRequest, SipResponse } from '../sip/message';
import { Flow } from '../transport/flow';

export interface TrunkTransports {
  udp(address: string, port: number): Flow;
  tcp(address: string, port: number): Flow;
}

export class Trunks {
  constructor(
    readonly list: TrunkConfig[],
    private readonly transports: TrunkTransports,
  ) {}

  /** The trunk a request came from, when its source address is one the trunk allows. */
  fromSource(flow: Flow): TrunkConfig | null {
    if (flow.transport !== 'UDP' && flow.transport !== 'TCP') return null;
    return this.list.find((t) => t.allow.includes(flow.remoteAddress)) ?? null;
  }

  /** Where calls to numbers go: the first trunk configured. */
  outbound(): TrunkConfig | null {
    return this.list[0] ?? null;
  }

  flow(t: TrunkConfig): Flow {
    return t.transport === 'tcp' ? this.transports.tcp(t.address, t.port) : this.transports.udp(t.address, t.port);
  }

  requestUri(t: TrunkConfig, number: string): string {
    return `sip:${number}@${t.domain ?? t.address}`;
  }

  /**
   * The request again with the trunk's credentials when it challenged us (401/407), or null when
   * the trunk has none or the challenge cannot be answered. The CSeq stays: the caller's dialog owns it.
   */
  answer(t: TrunkConfig, sent: SipRequest, challenge: SipResponse, newVia: string): SipRequest | null {
    if (!t.username || !t.password) return null;
    const proxy = challenge.status === 407;
    const value = challenge.get(proxy ? 'proxy-authenticate' : 'www-authenticate');
    const auth = value ? answerChallenge(value, t.username, t.password, sent.method, sent.uri) : null;
    if (!auth) return null;
    const again = sent.clone();
    again.removeFirst('via');
    again.prepend('Via', newVia);
    again.set(proxy ? 'Proxy-Authorization' : 'Authorization', auth);
    return again;
  }
}
