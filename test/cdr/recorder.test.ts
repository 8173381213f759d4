import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';

import { MemoryLiveState } from '../../shared/live/memory';
import { createLogger } from '../../shared/log';
import { Cdr, Cdrs } from '../../shared/model/cdrs';
import { EmbeddedStore } from '../../shared/store/embedded';
import { CdrRecorder } from '../../signaling/cdr/recorder';
import { LiveFeed } from '../../signaling/live/feed';

describe('call recorder: ceilings', () => {
  let store: EmbeddedStore;
  let live: MemoryLiveState;
  let feed: LiveFeed;
  let recorder: CdrRecorder;
  beforeEach(async () => {
    store = await EmbeddedStore.open(fs.mkdtempSync(path.join(os.tmpdir(), 'wac-cdr-')));
    live = new MemoryLiveState();
    feed = new LiveFeed(live, () => [], 10);
    recorder = new CdrRecorder(new Cdrs(store), feed, createLogger('silent'), 12 * 3600_000, 10, 100);
  });
  afterEach(async () => {
    await recorder.close();
    feed.close();
    await store.close();
  });

  const until = async (what: string, ok: () => Promise<boolean>) => {
    const deadline = Date.now() + 3000;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('a call lost while ringing leaves the live view and gets a record with 408', async () => {
    recorder.started('lost-1', 'direct', 'alice-id', 'bob-id', ['alice-id', 'bob-id']);
    await until('the call in the live view', async () => (await live.calls()).length === 1);
    await until('the call to leave the live view', async () => (await live.calls()).length === 0);
    await until('its record', async () => (await new Cdrs(store).list()).length === 1);
    const [cdr] = await new Cdrs(store).list();
    expect(cdr).to.include({ callId: 'lost-1', code: 408, result: 'no-answer', answer: null });
  });

  it('an answered call is not ended by the ring ceiling', async () => {
    recorder.started('ok-1', 'direct', 'alice-id', 'bob-id', ['alice-id', 'bob-id']);
    recorder.answered('ok-1', 'bob-id', 200, ['a', 'b']);
    await new Promise((r) => setTimeout(r, 300));
    expect((await live.calls()).map((c) => c.state)).to.deep.equal(['answered']);
    recorder.ended('ok-1', 'a', 'b');
    await until('its record', async () => (await new Cdrs(store).list()).length === 1);
    expect((await new Cdrs(store).list())[0]).to.include({ callId: 'ok-1', code: 200, result: 'answered' });
  });

  it('an answered call still up at the call ceiling gets its record', async () => {
    const short = new CdrRecorder(new Cdrs(store), feed, createLogger('silent'), 100, 10, 60_000);
    try {
      short.started('long-1', 'direct', 'alice-id', 'bob-id', ['alice-id', 'bob-id']);
      const answeredAt = Date.now();
      short.answered('long-1', 'bob-id', 200, ['a', 'b']);
      await until('its record', async () => (await new Cdrs(store).list()).length === 1);
      expect(Date.now() - answeredAt, 'ms from the answer to the record').to.be.at.least(100);
      expect((await new Cdrs(store).list())[0]).to.include({ callId: 'long-1', code: 200, result: 'answered' });
      await until('the call to leave the live view', async () => (await live.calls()).length === 0);
    } finally {
      await short.close();
    }
  });
});

describe('call records in the store', () => {
  let dir: string;
  let store: EmbeddedStore;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-cdr-'));
    store = await EmbeddedStore.open(dir);
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const record = (id: string): Cdr => ({
    id, callId: `call-${id}`, kind: 'direct', caller: 'alice-id', callee: 'bob-id', answeredBy: null, parties: ['alice-id', 'bob-id'],
    start: '2026-11-24T10:00:00.000Z', answer: null, end: '2026-11-24T10:00:05.000Z', duration: 0, result: 'no-answer', code: 480,
  });

  it('go to the append-only log, not the key space; records kept as documents by earlier versions are still listed, a damaged line is skipped', async () => {
    await store.write([{ op: 'set', key: 'cdr:old', value: JSON.stringify(record('old')) }, { op: 'sadd', key: 'index:cdr', members: ['old'] }]);
    const cdrs = new Cdrs(store);
    await cdrs.save([record('new-1')]);
    await store.append('cdr', ['{"id":"damaged']);
    await cdrs.save([record('new-2')]);
    expect((await cdrs.list()).map((c) => c.id)).to.deep.equal(['old', 'new-1', 'new-2']);
    expect(await store.keys('cdr:')).to.deep.equal(['cdr:old']);
    expect(await store.readLog('cdr')).to.have.length(3);
  });
});
