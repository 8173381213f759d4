/**
 * State that must be kept for a fixed time and then dropped, held in generations: new entries join
 * the newest, and every duration / (COUNT - 1) the oldest is dropped, so each entry lives between the
 * duration and 33/32 of it. At thousands of transactions per second this replaces a Node timer (and
 * its closure) per entry with a slot in an array or a map. Many small generations rather than a few:
 * dropping one is a burst of work on the event loop (at 3,000 calls/s a quarter of Timer L's 32 s
 * would be 24,000 transactions at once), and entries outlive their duration by less.
 */
const COUNT = 33;

export class Generations<G> {
  /** Newest first. */
  private generations: G[];
  /** Runs only while something may be kept: an idle server is not woken up for empty generations. */
  private timer: NodeJS.Timeout | null = null;
  /** Rotations since `newest` was last handed out: at COUNT, every generation is empty. */
  private quiet = 0;
  private closed = false;

  /** @param drop gets each generation as it ages out (and all of them on close). */
  constructor(private readonly durationMs: number, private readonly make: () => G, private readonly drop: (g: G) => void) {
    this.generations = Array.from({ length: COUNT }, make);
  }

  /** Where new entries go. */
  get newest(): G {
    this.quiet = 0;
    if (!this.timer && !this.closed) {
      this.timer = setInterval(() => this.rotate(), this.durationMs / (COUNT - 1));
      this.timer.unref();
    }
    return this.generations[0];
  }

  private rotate(): void {
    const oldest = this.generations.pop()!;
    this.generations.unshift(this.make());
    this.drop(oldest);
    if (++this.quiet >= COUNT) this.stop();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Drops everything now; nothing ages out after this, so owners add nothing more. */
  close(): void {
    this.closed = true;
    this.stop();
    const all = this.generations;
    this.generations = Array.from({ length: COUNT }, this.make);
    for (const g of all) this.drop(g);
  }
}
