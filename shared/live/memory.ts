/** The live view of a single process, where signaling and the admin API share this object. */
import { LiveCall, LiveChanges, LiveRegistration, LiveState, unexpired } from './live';

export class MemoryLiveState implements LiveState {
  private readonly regs = new Map<string, LiveRegistration>();
  private readonly live = new Map<string, LiveCall>();

  publish(changes: LiveChanges): void {
    apply(this.regs, changes.registrations);
    apply(this.live, changes.calls);
  }

  async registrations(): Promise<LiveRegistration[]> {
    const now = Date.now();
    const out: LiveRegistration[] = [];
    for (const r of this.regs.values()) {
      const current = unexpired(r, now);
      if (current) out.push(current);
    }
    return out;
  }

  async calls(): Promise<LiveCall[]> {
    return [...this.live.values()];
  }

  async close(): Promise<void> {}
}

function apply<T>(into: Map<string, T>, changes: ReadonlyMap<string, T | null>): void {
  for (const [k, v] of changes) {
    if (v === null) into.delete(k);
    else into.set(k, v);
  }
}
