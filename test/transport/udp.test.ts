import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nativeAvailable } from '../../signaling/transport/datagram';
import { Flow } from '../../signaling/transport/flow';
import { UdpTransport } from '../../signaling/transport/udp';

function peer(): Promise<dgram.Socket> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => resolve(s));
  });
}

const send = (s: dgram.Socket, data: string | Buffer, port: number) => new Promise<void>((r) => s.send(data, port, '127.0.0.1', () => r()));

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await new Promise((r) => setTimeout(r, 5));
}

describe('SIP over UDP: the socket', () => {
  it('is the native one on Linux (npm ci builds it)', function () {
    if (process.platform !== 'linux') this.skip();
    expect(nativeAvailable('127.0.0.1')).to.equal(true);
    expect(nativeAvailable('localhost'), 'a host name is left to Node').to.equal(false);
  });
});

describe('The native transports in a worker thread', () => {
  it('survives the worker being terminated with its UDP socket and WebSocket server open (the addon is unloaded before libuv closes handles)', function () {
    if (!nativeAvailable('127.0.0.1')) this.skip();
    const addon = path.join(__dirname, '../../signaling/transport/native/build/Release/wac_io.node');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wac-udp-')), 'worker.js');
    fs.writeFileSync(file, `
      const { Worker, isMainThread, parentPort } = require('node:worker_threads');
      if (isMainThread) {
        const w = new Worker(__filename);
        w.on('message', () => w.terminate().then(() => console.log('survived')));
      } else {
        const { udp, ws } = require(${JSON.stringify(addon)});
        udp.open('127.0.0.1', 0, 65536, 65536, () => {});
        ws.open(65536, () => {});
        parentPort.postMessage('open');
      }
    `);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 10000 });
    fs.rmSync(path.dirname(file), { recursive: true });
    expect([r.signal, r.status, r.stdout.trim()]).to.deep.equal([null, 0, 'survived']);
  });
});

for (const io of ['native', 'node'] as const) {
  describe(`SIP over UDP (udp_io = ${io}): flows`, () => {
    before(function () {
      if (io === 'native' && !nativeAvailable('127.0.0.1')) this.skip();
    });

    it('gives datagrams in a run from one peer the same flow object, and each peer its own flow and replies', async () => {
      const got: Array<{ text: string; flow: Flow }> = [];
      const udp = new UdpTransport({ onMessage: (data, flow) => got.push({ text: data.toString('latin1'), flow }), onFlowClosed: () => undefined }, io);
      const port = await udp.listen(0, '127.0.0.1');
      expect(udp.kind).to.equal(io);
      const peers = await Promise.all([peer(), peer()]);
      try {
        await send(peers[0], 'a1', port);
        await send(peers[0], 'a2', port);
        await until(() => got.length >= 2);
        await send(peers[1], 'b1', port);
        await until(() => got.length >= 3);
        await send(peers[0], 'a3', port);
        await until(() => got.length >= 4);
        expect(got.map((g) => g.text)).to.deep.equal(['a1', 'a2', 'b1', 'a3']);
        const [a1, a2, b1, a3] = got.map((g) => g.flow);
        expect(a1, 'a run from one peer shares its flow').to.equal(a2);
        expect(b1).to.not.equal(a1);
        expect([a1.id, b1.id, a3.id]).to.deep.equal([0, 1, 0].map((i) => `u127.0.0.1:${peers[i].address().port}`));
        // Replies go to each peer's own address.
        const reply = new Promise<string>((r) => peers[1].once('message', (d) => r(d.toString('latin1'))));
        expect(b1.send(Buffer.from('to-b'))).to.equal(true);
        expect(await reply).to.equal('to-b');
      } finally {
        for (const s of peers) s.close();
        await udp.close();
      }
    });

    it('keeps the order and the bytes of a burst both ways, up to the largest datagram', async () => {
      const got: Buffer[] = [];
      let from: Flow | null = null;
      const udp = new UdpTransport({ onMessage: (data, flow) => { got.push(Buffer.from(data)); from = flow; }, onFlowClosed: () => undefined }, io);
      const port = await udp.listen(0, '127.0.0.1');
      const p = await peer();
      p.setRecvBufferSize(4 * 1024 * 1024);
      const back: Buffer[] = [];
      p.on('message', (d) => back.push(d));
      try {
        const big = Buffer.alloc(65507, 7);
        big.write('big', 0, 'latin1');
        const texts = Array.from({ length: 500 }, (_, i) => `m${i};${'x'.repeat(i % 90)}`);
        for (const t of texts) p.send(t, port, '127.0.0.1');
        await send(p, big, port);
        await until(() => got.length >= 501, 5000);
        expect(got.slice(0, 500).map((b) => b.toString('latin1'))).to.deep.equal(texts);
        expect(got[500].equals(big), 'the largest datagram arrives whole').to.equal(true);
        for (const b of got) from!.send(b);
        await until(() => back.length >= 501, 5000);
        expect(back.slice(0, 500).map((b) => b.toString('latin1'))).to.deep.equal(texts);
        expect(back[500].equals(big), 'and goes back whole').to.equal(true);
      } finally {
        p.close();
        await udp.close();
      }
    });

    it('refuses a port in use with EADDRINUSE, sends nothing and receives nothing after close', async () => {
      const got: string[] = [];
      const a = new UdpTransport({ onMessage: (d) => got.push(d.toString('latin1')), onFlowClosed: () => undefined }, io);
      const port = await a.listen(0, '127.0.0.1');
      const b = new UdpTransport({ onMessage: () => undefined, onFlowClosed: () => undefined }, io);
      const err = await b.listen(port, '127.0.0.1').then(() => null, (e: NodeJS.ErrnoException) => e);
      expect(err?.code).to.equal('EADDRINUSE');
      await b.close();
      const p = await peer();
      try {
        const flow = a.flow('127.0.0.1', p.address().port);
        await a.close();
        expect(flow.send(Buffer.from('late')), 'a closed transport sends nothing').to.equal(false);
        await send(p, 'after close', port);
        await new Promise((r) => setTimeout(r, 50));
        expect(got).to.deep.equal([]);
        // The port is free again.
        const c = new UdpTransport({ onMessage: () => undefined, onFlowClosed: () => undefined }, io);
        expect(await c.listen(port, '127.0.0.1')).to.equal(port);
        await c.close();
      } finally {
        p.close();
      }
    });
  });
}
