/** The live view over Redis as several nodes share it: merged reads, and entries that leave with their node. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import Redis from 'ioredis';
import { LiveCall, LiveRegistration, RedisLiveState } from '../../shared/live';
import { createLogger } from '../../shared/log';
import { waitUntil } from '../support/jssip';
import { RedisServer, startRedisOrSkip } from '../support/redis';

const log = createLogger('silent');

const registration = (instance: string): LiveRegistration => ({
  user: 'alice', aor: 'alice@wac.local',
  devices: [{ contact: `sip:${instance}@x.invalid`, transport: 'WS', instance, userAgent: null, expiresAt: Date.now() + 600_000, registeredAt: Date.now() }],
});
const call: LiveCall = {
  id: 'call-1', callId: 'cid-1', kind: 'direct', caller: 'u1', callee: 'u2', state: 'ringing', answeredBy: null, parties: ['u1', 'u2'],
  start: Date.now(), answer: null,
};
const instances = async (live: RedisLiveState): Promise<string[]> => (await live.registrations()).flatMap((r) => r.devices.map((d) => d.instance!)).sort();

describe('live view over Redis, shared by nodes', function () {
  let redis: RedisServer;
  const open: RedisLiveState[] = [];
  const node = async (ttlMs = 15_000): Promise<RedisLiveState> => {
    const live = await RedisLiveState.open(redis.url, log, { ttlMs });
    open.push(live);
    return live;
  };

  before(async function () {
    redis = await startRedisOrSkip(this);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((l) => l.close()));
  });
  after(async () => {
    await redis?.stop();
  });

  it('shows every node\'s entries, one AOR with the devices of all nodes, until a node closes', async () => {
    const a = await node();
    const b = await node();
    a.publish({ registrations: new Map([['alice@wac.local', registration('a')]]), calls: new Map([[call.id, call]]) });
    b.publish({ registrations: new Map([['alice@wac.local', registration('b')]]), calls: new Map() });
    await waitUntil(async () => (await instances(b)).length === 2, 2000, 'both devices');
    expect((await a.registrations()).map((r) => r.aor)).to.deep.equal(['alice@wac.local']);
    expect(await b.calls()).to.deep.equal([call]);
    a.publish({ registrations: new Map(), calls: new Map([[call.id, { ...call, state: 'answered', answer: Date.now() }]]) });
    await waitUntil(async () => (await b.calls())[0]?.state === 'answered', 2000, 'the answer seen by the other node');
    await a.close();
    expect(await instances(b)).to.deep.equal(['b']);
    expect(await b.calls()).to.deep.equal([]);
  });

  it('forgets a node that died without closing once its entries expire', async () => {
    const reader = await node();
    // Another process, killed without warning.
    const script = `
      const { RedisLiveState } = require(${JSON.stringify(path.resolve(__dirname, '../../shared/live/redis'))});
      const { createLogger } = require(${JSON.stringify(path.resolve(__dirname, '../../shared/log'))});
      RedisLiveState.open(${JSON.stringify(redis.url)}, createLogger('silent'), { ttlMs: 600 }).then((live) => {
        live.publish({ registrations: new Map([['bob@wac.local', { user: 'bob', aor: 'bob@wac.local', devices: [
          { contact: 'sip:dead@x.invalid', transport: 'UDP', instance: 'dead', userAgent: null, expiresAt: Date.now() + 600000, registeredAt: Date.now() }] }]]),
          calls: new Map() });
        setInterval(() => {}, 1000);
      });`;
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', '-e', script], { stdio: 'ignore' });
    try {
      await waitUntil(async () => (await instances(reader)).includes('dead'), 10_000, 'the other process\'s device');
      child.kill('SIGKILL');
      const killed = Date.now();
      await waitUntil(async () => (await instances(reader)).length === 0, 3000, 'the dead node\'s device gone');
      expect(Date.now() - killed).to.be.below(2000);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('writes its entries again when Redis lost them', async () => {
    const a = await node(300);
    a.publish({ registrations: new Map([['alice@wac.local', registration('a')]]), calls: new Map() });
    await waitUntil(async () => (await instances(a)).length === 1, 2000, 'the device');
    const raw = new Redis(redis.url);
    try {
      await raw.del(`live:registrations:${a.node}`);
      expect(await instances(a)).to.deep.equal([]);
      await waitUntil(async () => (await instances(a)).length === 1, 2000, 'the device written again');
    } finally {
      raw.disconnect();
    }
  });
});
