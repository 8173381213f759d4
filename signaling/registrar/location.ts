/**
 * The location service: bindings per address-of-record, each tied to the flow it registered on.
 * A binding is keyed by (+sip.instance, reg-id) when the UA sends them (RFC 5626), else by its
 * Contact URI, so a reloaded browser tab replaces its old binding instead of piling up.
 */
import type { TransportName } from '../transport/flow';

export interface Binding {
  aor: string;
  key: string;
  /** Contact URI as registered; used verbatim as the Request-URI towards the UA. */
  uri: string;
  /** Contact header params as written (`;expires` removed), echoed byte-exact in 200 OK. */
  params: string;
  instance: string | null;
  regId: string | null;
  expiresAt: number;
  callId: string;
  cseq: number;
  flowId: string;
  transport: TransportName;
  userAgent: string | null;
  path: string[];
  /** The first REGISTER of this binding on its flow. */
  registeredAt: number;
  updatedAt: number;
}

export class Location {
  private byAor = new Map<string, Map<string, Binding>>();
  private byFlow = new Map<string, Set<Binding>>();
  private sweeper: NodeJS.Timeout;

  /** `changed` hears of every binding saved (refreshes included) or removed, for the live view. */
  constructor(
    private readonly changed: (aor: string) => void,
    sweepMs = 5000,
  ) {
    this.sweeper = setInterval(() => this.sweep(), sweepMs);
    this.sweeper.unref();
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  /** Live bindings of an AOR; expired ones are dropped on the way. */
  lookup(aor: string, now = Date.now()): Binding[] {
    const m = this.byAor.get(aor);
    if (!m) return [];
    const out: Binding[] = [];
    for (const b of m.values()) {
      if (b.expiresAt > now) out.push(b);
      else this.remove(b);
    }
    return out;
  }

  get(aor: string, key: string): Binding | undefined {
    return this.byAor.get(aor)?.get(key);
  }

  save(b: Binding): void {
    const old = this.get(b.aor, b.key);
    if (old) this.unindexFlow(old);
    let m = this.byAor.get(b.aor);
    if (!m) {
      m = new Map();
      this.byAor.set(b.aor, m);
    }
    m.set(b.key, b);
    let s = this.byFlow.get(b.flowId);
    if (!s) {
      s = new Set();
      this.byFlow.set(b.flowId, s);
    }
    s.add(b);
    this.changed(b.aor);
  }

  remove(b: Binding): void {
    const m = this.byAor.get(b.aor);
    if (m?.get(b.key) === b) {
      m.delete(b.key);
      if (m.size === 0) this.byAor.delete(b.aor);
      this.changed(b.aor);
    }
    this.unindexFlow(b);
  }

  /** A closed connection takes its bindings with it at once. */
  flowClosed(flowId: string): void {
    const s = this.byFlow.get(flowId);
    if (!s) return;
    for (const b of [...s]) this.remove(b);
    this.byFlow.delete(flowId);
  }

  count(aor: string): number {
    return this.lookup(aor).length;
  }

  private unindexFlow(b: Binding): void {
    const s = this.byFlow.get(b.flowId);
    if (!s) return;
    s.delete(b);
    if (s.size === 0) this.byFlow.delete(b.flowId);
  }

  private sweep(): void {
    const now = Date.now();
    for (const m of this.byAor.values()) for (const b of m.values()) if (b.expiresAt <= now) this.remove(b);
  }
}
