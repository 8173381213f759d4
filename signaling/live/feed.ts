/**
 * Feeds the shared live view from the location service and the call recorder. A change is only
 * noted here; everything noted is published together every `flushMs`, so a REGISTER or a call event
 * costs a map entry, and an AOR refreshed many times within one period is written once.
 */
import type { LiveCall, LiveChanges, LiveDevice, LiveRegistration, LiveState } from '../../shared/live';
import type { Binding } from '../registrar/location';
import { unquote } from '../sip/headers';

export class LiveFeed {
  private aors = new Set<string>();
  private calls = new Map<string, LiveCall | null>();
  private readonly flusher: NodeJS.Timeout;

  constructor(
    private readonly live: LiveState,
    private readonly bindings: (aor: string) => Binding[],
    flushMs = 200,
  ) {
    this.flusher = setInterval(() => this.flush(), flushMs);
    this.flusher.unref();
  }

  /** Refreshes count too: the view shows each device's expiry and hides it once passed. */
  registrationChanged(aor: string): void {
    this.aors.add(aor);
  }

  callChanged(call: LiveCall): void {
    this.calls.set(call.id, call);
  }

  callEnded(id: string): void {
    this.calls.set(id, null);
  }

  close(): void {
    clearInterval(this.flusher);
    this.flush();
  }

  private flush(): void {
    if (this.aors.size === 0 && this.calls.size === 0) return;
    const registrations = new Map<string, LiveRegistration | null>();
    // The lookup may drop an expired binding, which notes its AOR again for the next period.
    const aors = this.aors;
    this.aors = new Set();
    for (const aor of aors) registrations.set(aor, this.registration(aor));
    const changes: LiveChanges = { registrations, calls: this.calls };
    this.calls = new Map();
    this.live.publish(changes);
  }

  private registration(aor: string): LiveRegistration | null {
    const bindings = this.bindings(aor);
    if (bindings.length === 0) return null;
    return { user: aor.slice(0, aor.lastIndexOf('@')), aor, devices: bindings.map(device) };
  }
}

function device(b: Binding): LiveDevice {
  return {
    contact: b.uri, transport: b.transport, instance: b.instance === null ? null : unquote(b.instance),
    userAgent: b.userAgent, expiresAt: b.expiresAt, registeredAt: b.registeredAt,
  };
}
