/**
 * The live view over Redis, so that the admin API of any node sees every node's registrations and
 * calls. Each node writes only its own keys, which expire unless it keeps them alive:
 *
 *   live:nodes                  zset: node id → ms until which the node counts as alive
 *   live:registrations:<node>   hash: AOR → JSON LiveRegistration
 *   live:calls:<node>           hash: call id → JSON LiveCall
 *
 * A node that dies takes its entries with it within `ttlMs`. Readers merge the nodes' entries, so
 * an AOR with devices on two nodes shows once with all of them.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import Redis, { ChainableCommander } from '../ioredis';
import type { Logger } from '../log';
import { connectRedis } from '../store/redis';
import { LiveCall, LiveChanges, LiveRegistration, LiveState, unexpired } from './live';

const NODES = 'live:nodes';
const registrationsKey = (node: string) => `live:registrations:${node}`;
const callsKey = (node: string) => `live:calls:${node}`;
/** Deletions go in pieces: spreading a huge list into one call can overflow the stack. */
const CHUNK = 1000;

export interface RedisLiveOptions {
  /** How long a silent node's entries survive. Default 15 s; kept alive every third of it. */
  ttlMs?: number;
}

export class RedisLiveState implements LiveState {
  readonly node = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  /**
   * What this node has published, as written, so that it can write it all again when its keys were
   * lost: a write that failed, or keys that expired while the process was stalled or Redis restarted.
   */
  private readonly mine = { registrations: new Map<string, string>(), calls: new Map<string, string>() };
  private rewriteNeeded = false;
  private failing = false;
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;

  private constructor(
    private readonly client: Redis,
    private readonly log: Logger,
    private readonly ttlMs: number,
  ) {
    this.heartbeat = setInterval(() => this.beat(), Math.max(1, Math.floor(ttlMs / 3)));
    this.heartbeat.unref();
  }

  static async open(url: string, log: Logger, options: RedisLiveOptions = {}): Promise<RedisLiveState> {
    let client: Redis;
    try {
      client = await connectRedis(url);
    } catch (err) {
      throw new Error(`live view: ${(err as Error).message}`);
    }
    const live = new RedisLiveState(client, log, options.ttlMs ?? 15_000);
    try {
      results(await live.alive(client.multi()).exec());
    } catch (err) {
      clearInterval(live.heartbeat);
      client.disconnect();
      throw new Error(`live view: ${(err as Error).message}`);
    }
    return live;
  }

  publish(changes: LiveChanges): void {
    if (this.closed) return;
    const registrations = record(this.mine.registrations, changes.registrations);
    const calls = record(this.mine.calls, changes.calls);
    // The heartbeat due to rewrite everything will carry these too.
    if (this.rewriteNeeded) return;
    const m = this.client.multi();
    write(m, registrationsKey(this.node), registrations);
    write(m, callsKey(this.node), calls);
    this.run(this.alive(m));
  }

  async registrations(): Promise<LiveRegistration[]> {
    const now = Date.now();
    const byAor = new Map<string, LiveRegistration>();
    for (const json of await this.entries(registrationsKey, now)) {
      const r = JSON.parse(json) as LiveRegistration;
      const seen = byAor.get(r.aor);
      byAor.set(r.aor, seen ? { ...seen, devices: [...seen.devices, ...r.devices] } : r);
    }
    const out: LiveRegistration[] = [];
    for (const r of byAor.values()) {
      const current = unexpired(r, now);
      if (current) out.push(current);
    }
    return out;
  }

  async calls(): Promise<LiveCall[]> {
    return (await this.entries(callsKey, Date.now())).map((json) => JSON.parse(json) as LiveCall);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    try {
      await this.client.multi().del(registrationsKey(this.node), callsKey(this.node)).zrem(NODES, this.node).exec();
      await this.client.quit();
    } catch (err) {
      // They expire on their own.
      this.log.warn({ err }, 'live view: could not remove this node\'s entries from Redis');
      this.client.disconnect();
    }
  }

  /** Every live node's entries under `key(node)`. */
  private async entries(key: (node: string) => string, now: number): Promise<string[]> {
    const nodes = await this.client.zrangebyscore(NODES, now, '+inf');
    if (nodes.length === 0) return [];
    const p = this.client.pipeline();
    for (const node of nodes) p.hvals(key(node));
    return results(await p.exec()).flat() as string[];
  }

  /** Keeps this node and its keys alive for another ttlMs. */
  private alive(m: ChainableCommander): ChainableCommander {
    const now = Date.now();
    return m
      .zadd(NODES, now + this.ttlMs, this.node)
      .zremrangebyscore(NODES, '-inf', `(${now}`)
      .pexpire(registrationsKey(this.node), this.ttlMs)
      .pexpire(callsKey(this.node), this.ttlMs);
  }

  private beat(): void {
    if (this.rewriteNeeded) return this.rewrite();
    this.run(this.alive(this.client.multi()), ([, , regs, calls]) => {
      // PEXPIRE answers 0 for a missing key.
      const lost = (regs === 0 && this.mine.registrations.size > 0) || (calls === 0 && this.mine.calls.size > 0);
      if (lost) this.rewrite();
    });
  }

  private rewrite(): void {
    this.rewriteNeeded = false;
    const m = this.client.multi().del(registrationsKey(this.node), callsKey(this.node));
    if (this.mine.registrations.size > 0) m.hset(registrationsKey(this.node), this.mine.registrations);
    if (this.mine.calls.size > 0) m.hset(callsKey(this.node), this.mine.calls);
    this.run(this.alive(m));
  }

  /** Sends a write without waiting for it; a failure schedules a full rewrite and is logged once. */
  private run(m: ChainableCommander, then?: (replies: unknown[]) => void): void {
    m.exec()
      .then((replies) => {
        const values = results(replies);
        if (this.failing) this.log.info('live view: Redis writes work again');
        this.failing = false;
        then?.(values);
      })
      .catch((err: unknown) => {
        if (this.closed) return;
        this.rewriteNeeded = true;
        if (!this.failing) this.log.error({ err }, 'live view: could not write to Redis; this node\'s entries are written again once it works');
        this.failing = true;
      });
  }
}

interface Delta {
  set: Map<string, string>;
  gone: string[];
}

/** Applies `changes` to `mine`; returns what to write. */
function record(mine: Map<string, string>, changes: ReadonlyMap<string, unknown>): Delta {
  const delta: Delta = { set: new Map(), gone: [] };
  for (const [field, value] of changes) {
    if (value === null) {
      if (mine.delete(field)) delta.gone.push(field);
    } else {
      const json = JSON.stringify(value);
      mine.set(field, json);
      delta.set.set(field, json);
    }
  }
  return delta;
}

function write(m: ChainableCommander, key: string, { set, gone }: Delta): void {
  if (set.size > 0) m.hset(key, set);
  for (let i = 0; i < gone.length; i += CHUNK) m.hdel(key, ...gone.slice(i, i + CHUNK));
}

/** The replies of a MULTI or pipeline; rejects with the first command's error. */
function results(replies: [Error | null, unknown][] | null): unknown[] {
  if (!replies) throw new Error('transaction aborted');
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
