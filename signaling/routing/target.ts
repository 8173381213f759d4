/** Who an initial request is for, judged from its Request-URI alone. */
import { parseSipUri } from '../sip/uri';

export type Target =
  | { kind: 'server' }
  | { kind: 'user'; username: string; aor: string }
  | { kind: 'foreign'; host: string };

export class TargetResolver {
  private readonly hosts: Set<string>;

  constructor(private readonly domain: string, localHosts: string[]) {
    this.hosts = new Set([domain, ...localHosts].map((h) => h.toLowerCase()));
  }

  resolve(requestUri: string): Target {
    const uri = parseSipUri(requestUri)!;
    if (!this.hosts.has(uri.host)) return { kind: 'foreign', host: uri.host };
    if (!uri.user) return { kind: 'server' };
    return { kind: 'user', username: uri.user, aor: `${uri.user}@${this.domain}` };
  }
}
