/** What every transaction shares: its key, its flow, its timers, and its end. */
import { Flow } from '../transport/flow';

export type State = 'calling' | 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

export abstract class Transaction {
  state: State;
  private timers = new Map<string, NodeJS.Timeout>();
  private onTerminated: Array<() => void> = [];

  constructor(readonly key: string, public flow: Flow, initial: State) {
    this.state = initial;
  }

  protected startTimer(name: string, ms: number, fire: () => void): void {
    this.stopTimer(name);
    this.timers.set(name, setTimeout(() => {
      this.timers.delete(name);
      fire();
    }, ms));
  }

  protected stopTimer(name: string): void {
    const t = this.timers.get(name);
    if (t) {
      clearTimeout(t);
      this.timers.delete(name);
    }
  }

  /** Runs `f` when the transaction ends (used by the table to forget it). */
  whenTerminated(f: () => void): void {
    this.onTerminated.push(f);
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const f of this.onTerminated) f();
  }

  /** Enters a state that absorbs retransmissions for `ms` (0 on reliable transports ends at once). */
  protected linger(state: State, timer: string, ms: number): void {
    this.state = state;
    if (ms <= 0) this.terminate();
    else this.startTimer(timer, ms, () => this.terminate());
  }
}
