/**
 * The late states that a timer ends and nothing else (RFC 3261 Timers D, I, K; RFC 6026 Timers L,
 * M): they absorb retransmissions, or in Accepted pass 2xx retransmissions and ACKs through. At
 * thousands of calls per second tens of thousands of transactions are in them at once, so they wait
 * in generations (one set per duration) instead of a Node timer each. Lingering a little longer than
 * the RFC's figure only costs memory: no peer races these timers. (Timer J is the transaction
 * layer's absorber, which keeps only the final response.)
 */
import { Generations } from './generations';

interface Lingerer {
  terminate(): void;
}

const endAll = (g: Lingerer[]): void => {
  for (const t of g) t.terminate();
};

export class Linger {
  private sets = new Map<number, Generations<Lingerer[]>>();
  private closed = false;

  /** Ends `t` after `ms` to 33/32 × `ms` (at once when `ms` is 0: reliable transports absorb nothing). */
  add(t: Lingerer, ms: number): void {
    if (ms <= 0 || this.closed) {
      t.terminate();
      return;
    }
    let set = this.sets.get(ms);
    if (!set) {
      set = new Generations<Lingerer[]>(ms, () => [], endAll);
      this.sets.set(ms, set);
    }
    set.newest.push(t);
  }

  /** Ends every lingering transaction now. */
  close(): void {
    this.closed = true;
    for (const set of this.sets.values()) set.close();
    this.sets.clear();
  }
}
