import { expect } from 'chai';
import { Generations } from '../../signaling/transaction/generations';
import { Linger } from '../../signaling/transaction/linger';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Timers fire late on a loaded machine, never early (1 ms of clock rounding aside). */
const SLACK_MS = 400;

async function until(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await sleep(5);
}

/** Records when it was ended and how often (a transaction ends once). */
class Probe {
  endedAt: number | null = null;
  ends = 0;
  constructor(private readonly t0: number) {}
  terminate(): void {
    this.ends++;
    this.endedAt ??= Date.now() - this.t0;
  }
}

// Durations of 32 generation steps of 10-20 ms: dropping a generation too early shows as 10-20 ms
// short, more than the few ms by which Node's cached timer clock can trail Date.now().
const EARLY_MS = 8;

describe('transaction late states: generations and linger', () => {
  it('drops each generation between the duration and 33/32 of it, oldest first, and everything on close', async () => {
    const t0 = Date.now();
    const droppedAt = new Map<string, number>();
    const g = new Generations<string[]>(640, () => [], (x) => x.forEach((s) => droppedAt.set(s, Date.now() - t0)));
    g.newest.push('a');
    await sleep(300);
    const bAt = Date.now() - t0;
    g.newest.push('b');
    expect(droppedAt.size, 'nothing dropped before the duration').to.equal(0);
    await until(() => droppedAt.has('a'), 660 + SLACK_MS);
    expect(droppedAt.get('a'), 'a kept for the duration').to.be.at.least(640 - EARLY_MS);
    expect(droppedAt.get('a'), 'a dropped by 33/32 of the duration').to.be.at.most(660 + SLACK_MS);
    await until(() => droppedAt.has('b'), bAt + 660 + SLACK_MS);
    expect(droppedAt.get('b')! - bAt, 'b kept for the duration').to.be.within(640 - EARLY_MS, 660 + SLACK_MS);
    g.newest.push('c');
    g.close();
    expect(droppedAt.has('c'), 'close drops the rest').to.equal(true);
    expect([...droppedAt.keys()], 'dropped oldest first').to.deep.equal(['a', 'b', 'c']);
  });

  it('stops rotating once every generation is empty, and starts again with the next entry', async () => {
    let drops = 0;
    const dropped: string[] = [];
    // 64 ms: a rotation every 2 ms.
    const g = new Generations<string[]>(64, () => [], (x) => {
      drops++;
      dropped.push(...x);
    });
    g.newest.push('a');
    await until(() => dropped.length === 1, 66 + SLACK_MS);
    // 'a' goes with the 33rd rotation, which leaves every generation empty; 50 ms more would be ~25
    // rotations if it went on.
    await sleep(50);
    expect(dropped).to.deep.equal(['a']);
    expect(drops, 'rotations after the last entry: until every generation is empty, then none').to.equal(33);
    g.newest.push('b');
    await until(() => dropped.length === 2, 66 + SLACK_MS);
    expect(dropped, 'rotating again for a new entry').to.deep.equal(['a', 'b']);
    g.close();
  });

  it('ends a lingering transaction once, after at least its duration; at once for 0 ms and after close', async () => {
    const t0 = Date.now();
    const linger = new Linger();
    const long = new Probe(t0);
    const short = new Probe(t0);
    const now = new Probe(t0);
    linger.add(long, 640);
    linger.add(short, 320);
    linger.add(now, 0);
    expect(now.ends, 'a reliable transport absorbs nothing: ended at once').to.equal(1);
    await until(() => short.ends > 0, 330 + SLACK_MS);
    expect(short.ends).to.equal(1);
    expect(short.endedAt!, 'the 320 ms linger').to.be.within(320 - EARLY_MS, 330 + SLACK_MS);
    expect(long.ends, 'the 640 ms one still lingers').to.equal(0);
    await until(() => long.ends > 0, 660 + SLACK_MS);
    expect(long.ends).to.equal(1);
    expect(long.endedAt!, 'the 640 ms linger').to.be.within(640 - EARLY_MS, 660 + SLACK_MS);
    const late = new Probe(t0);
    linger.add(late, 640);
    linger.close();
    expect(late.ends, 'close ends what still lingers').to.equal(1);
    const afterClose = new Probe(t0);
    linger.add(afterClose, 640);
    expect(afterClose.ends, 'nothing lingers after close').to.equal(1);
    expect([long, short, now, late].map((p) => p.ends), 'close ends nothing twice').to.deep.equal([1, 1, 1, 1]);
  });
});
