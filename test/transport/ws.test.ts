import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { nativeAddon } from '../../signaling/transport/addon';
import { Flow, FlowHandler } from '../../signaling/transport/flow';
import { WsOptions, WsTransport } from '../../signaling/transport/ws';

async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await new Promise((r) => setTimeout(r, 5));
  return cond();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A transport on an ephemeral port whose handler records what it is given. */
async function start(io: 'native' | 'node', opts: Partial<WsOptions> = {}) {
  const messages: Array<{ data: Buffer; flow: Flow }> = [];
  const closed: Flow[] = [];
  const handler: FlowHandler = {
    onMessage: (data, flow) => messages.push({ data, flow }),
    onFlowClosed: (flow) => closed.push(flow),
  };
  const transport = new WsTransport(handler, { maxPayload: 65536, pingIntervalMs: 2 ** 31 - 1, io, ...opts });
  const port = await transport.listen(0, '127.0.0.1');
  return { transport, port, messages, closed };
}

function client(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, 'sip', { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** A client frame: masked unless told otherwise. */
function frame(op: number, payload: Buffer, o: { fin?: boolean; mask?: boolean; rsv?: number } = {}): Buffer {
  const { fin = true, mask = true, rsv = 0 } = o;
  const n = payload.length;
  const len = n < 126 ? Buffer.from([n]) : n < 65536 ? Buffer.from([126, n >> 8, n & 255]) : Buffer.concat([Buffer.from([127]), Buffer.alloc(4), Buffer.from([n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255])]);
  len[0] |= mask ? 0x80 : 0;
  const head = Buffer.from([(fin ? 0x80 : 0) | rsv | op]);
  if (!mask) return Buffer.concat([head, len, payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i & 3]));
  return Buffer.concat([head, len, key, body]);
}

const UPGRADE = (port: number, o: { method?: string; key?: string | null; version?: string; protocol?: string } = {}) => [
  `${o.method ?? 'GET'} / HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: Upgrade', 'Upgrade: websocket',
  ...(o.key === null ? [] : [`Sec-WebSocket-Key: ${o.key ?? randomBytes(16).toString('base64')}`]),
  `Sec-WebSocket-Version: ${o.version ?? '13'}`, `Sec-WebSocket-Protocol: ${o.protocol ?? 'sip'}`, '', '',
].join('\r\n');

/** A raw TCP client that upgrades and then reads the server's (unmasked) frames. */
class Raw {
  private buf = Buffer.alloc(0);
  response = '';
  frames: Array<{ op: number; payload: Buffer }> = [];
  ended = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      if (!this.response) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        this.response = this.buf.subarray(0, end).toString('latin1');
        this.buf = this.buf.subarray(end + 4);
      }
      this.parse();
    });
    socket.on('close', () => {
      this.ended = true;
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number, request = UPGRADE(port), extra?: Buffer): Promise<Raw> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const raw = new Raw(socket);
    socket.write(extra ? Buffer.concat([Buffer.from(request, 'latin1'), extra]) : request);
    await until(() => raw.response !== '' || raw.ended);
    return raw;
  }

  private parse(): void {
    for (;;) {
      if (this.buf.length < 2) return;
      let len = this.buf[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        at = 10;
      }
      if (this.buf.length < at + len) return;
      this.frames.push({ op: this.buf[0] & 0x0f, payload: this.buf.subarray(at, at + len) });
      this.buf = this.buf.subarray(at + len);
    }
  }

  closeCode(): number | null {
    const c = this.frames.find((f) => f.op === 8);
    return c && c.payload.length >= 2 ? c.payload.readUInt16BE(0) : null;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

describe('SIP over WebSocket: the native kind', () => {
  it('is built on Linux (npm ci builds it)', function () {
    if (process.platform !== 'linux') this.skip();
    expect(nativeAddon()).to.not.equal(null);
  });

  it('a transport whose port is taken keeps nothing open: the process exits by itself', async function () {
    if (!nativeAddon()) this.skip();
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    const script = `
      const { WsTransport } = require(${JSON.stringify(path.join(__dirname, '../../signaling/transport/ws'))});
      const t = new WsTransport({ onMessage() {}, onFlowClosed() {} }, { maxPayload: 65536, pingIntervalMs: 1000, io: 'native' });
      t.listen(${port}, '127.0.0.1').catch((e) => console.log(e.code));
    `;
    try {
      const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { encoding: 'utf8', timeout: 15000 });
      expect([r.signal, r.stdout.trim()]).to.deep.equal([null, 'EADDRINUSE']);
    } finally {
      taken.close();
    }
  });

  it('ws_io = native refuses TLS (wss is served by the ws library)', () => {
    expect(() => new WsTransport({ onMessage: () => undefined, onFlowClosed: () => undefined }, {
      maxPayload: 65536, pingIntervalMs: 1000, io: 'native', tls: { cert: '/nonexistent', key: '/nonexistent' },
    })).to.throw(/wss \(TLS\) is served by the ws library only/);
  });
});

for (const io of ['native', 'node'] as const) {
  describe(`SIP over WebSocket (ws_io = ${io})`, () => {
    let t: Awaited<ReturnType<typeof start>>;
    const open: Array<WebSocket | Raw> = [];

    before(function () {
      if (io === 'native' && !nativeAddon()) this.skip();
    });

    beforeEach(async () => {
      t = await start(io, { maxPayload: 200000 });
      expect(t.transport.kind).to.equal(io);
    });

    afterEach(async () => {
      for (const c of open.splice(0)) c instanceof Raw ? c.destroy() : c.terminate();
      await t.transport.close();
    });

    const ws = async () => {
      const c = await client(t.port);
      open.push(c);
      return c;
    };
    const raw = async (request?: string, extra?: Buffer) => {
      const r = await Raw.open(t.port, request, extra);
      open.push(r);
      return r;
    };

    it('delivers text and binary messages whole; sends UTF-8 as text and other bytes as binary', async () => {
      const c = await ws();
      const got: Array<{ data: string; binary: boolean }> = [];
      c.on('message', (data: Buffer, binary) => got.push({ data: data.toString('latin1'), binary }));
      c.send('OPTIONS text: ASCII, then € and 😀');
      c.send(Buffer.from('OPTIONS bin'), { binary: true });
      expect(await until(() => t.messages.length === 2)).to.equal(true);
      expect(t.messages.map((m) => m.data.toString())).to.deep.equal(['OPTIONS text: ASCII, then € and 😀', 'OPTIONS bin']);
      const flow = t.messages[0].flow;
      expect(flow.constructor.name, 'the connection is served by the kind asked for').to.equal(io === 'native' ? 'NativeWsFlow' : 'WsFlow');
      expect(flow.transport).to.equal('WS');
      expect(flow.remoteAddress).to.equal('127.0.0.1');
      expect(flow.remotePort).to.equal((c as unknown as { _socket: net.Socket })._socket.localPort);
      expect(t.transport.get(flow.id)).to.equal(flow);
      expect(flow.send(Buffer.from('SIP/2.0 200 OK héllo'))).to.equal(true);
      expect(flow.send(Buffer.from([0x53, 0xff, 0xfe]))).to.equal(true);
      expect(await until(() => got.length === 2)).to.equal(true);
      expect(got).to.deep.equal([
        { data: Buffer.from('SIP/2.0 200 OK héllo').toString('latin1'), binary: false },
        { data: 'S\xff\xfe', binary: true },
      ]);
    });

    it('reassembles a fragmented message, answers a ping with its payload, and a CRLFCRLF keep-alive with CRLF', async () => {
      const c = await ws();
      const pongs: string[] = [];
      const texts: string[] = [];
      c.on('pong', (d) => pongs.push(d.toString()));
      c.on('message', (d: Buffer) => texts.push(d.toString('latin1')));
      c.send('MESSAGE part one, ', { fin: false });
      c.ping('abc');
      c.send('part two', { fin: true });
      c.send('\r\n\r\n');
      expect(await until(() => t.messages.length === 1 && pongs.length === 1 && texts.length === 1)).to.equal(true);
      expect(t.messages[0].data.toString()).to.equal('MESSAGE part one, part two');
      expect(pongs).to.deep.equal(['abc']);
      expect(texts).to.deep.equal(['\r\n']);
    });

    it('frames coalesced in one write, and a frame written a byte at a time, arrive whole and in order', async () => {
      const r = await raw();
      expect(r.response).to.match(/^HTTP\/1\.1 101 /);
      expect(r.response).to.match(/\r\nSec-WebSocket-Protocol: sip/i);
      r.socket.write(Buffer.concat(['one', 'two', 'three'].map((s) => frame(1, Buffer.from(s)))));
      expect(await until(() => t.messages.length === 3)).to.equal(true);
      const f = frame(2, Buffer.from('four, slowly'));
      for (const b of f) {
        r.socket.write(Buffer.from([b]));
        await sleep(2);
      }
      expect(await until(() => t.messages.length === 4)).to.equal(true);
      expect(t.messages.map((m) => m.data.toString())).to.deep.equal(['one', 'two', 'three', 'four, slowly']);
    });

    it('reads a message sent right behind the upgrade request, before the 101', async () => {
      await raw(undefined, frame(1, Buffer.from('early')));
      expect(await until(() => t.messages.length === 1)).to.equal(true);
      expect(t.messages[0].data.toString()).to.equal('early');
    });

    it('carries messages with 16-bit and 64-bit lengths both ways', async () => {
      const c = await ws();
      const got: Buffer[] = [];
      c.on('message', (d: Buffer) => got.push(d));
      const mid = Buffer.alloc(1000, 'm');
      const big = Buffer.alloc(150000, 'b');
      c.send(mid);
      c.send(big);
      expect(await until(() => t.messages.length === 2)).to.equal(true);
      expect(t.messages[0].data.equals(mid) && t.messages[1].data.equals(big)).to.equal(true);
      t.messages[0].flow.send(big);
      t.messages[0].flow.send(mid);
      expect(await until(() => got.length === 2)).to.equal(true);
      expect(got[0].equals(big) && got[1].equals(mid)).to.equal(true);
    });

    for (const [what, bytes, code] of [
      ['an unmasked frame', () => frame(1, Buffer.from('x'), { mask: false }), 1002],
      ['an RSV bit with no extension', () => frame(1, Buffer.from('x'), { rsv: 0x40 }), 1002],
      ['a continuation with no message begun', () => frame(0, Buffer.from('x')), 1002],
      ['a fragmented ping', () => frame(9, Buffer.from('x'), { fin: false }), 1002],
      ['an unknown opcode', () => frame(3, Buffer.from('x')), 1002],
      ['an unknown control opcode', () => frame(0xb, Buffer.from('x')), 1002],
      ['a ping over 125 bytes', () => frame(9, Buffer.alloc(126, 'p')), 1002],
      ['a new message inside a fragmented one', () => Buffer.concat([frame(1, Buffer.from('a'), { fin: false }), frame(1, Buffer.from('b'))]), 1002],
      ['a close frame with a one-byte body', () => frame(8, Buffer.from([3])), 1002],
      ['a close frame with status 1005, which no endpoint may send', () => frame(8, Buffer.from([0x03, 0xed])), 1002],
      ['a close frame whose reason is not UTF-8', () => frame(8, Buffer.from([0x03, 0xe8, 0xff])), 1007],
      ['a text message that is not UTF-8 (an overlong NUL)', () => frame(1, Buffer.from([0x41, 0xc0, 0x80])), 1007],
      ['a text message carrying a UTF-16 surrogate', () => frame(1, Buffer.from('12345678\xed\xa0\x80', 'latin1')), 1007],
      ['a text message cut inside a character', () => frame(1, Buffer.from('abcdefghij\xe2\x82', 'latin1')), 1007],
      ['a message over the maximum payload', () => frame(2, Buffer.alloc(200001, 'a')), 1009],
      ['a fragmented message over the maximum payload', () => Buffer.concat([frame(2, Buffer.alloc(150000, 'a'), { fin: false }), frame(0, Buffer.alloc(60000, 'a'))]), 1009],
    ] as const) {
      it(`fails the connection on ${what} with ${code}, reports the flow closed, and keeps serving`, async () => {
        const r = await raw();
        r.socket.write(frame(1, Buffer.from('first')));
        expect(await until(() => t.messages.length === 1)).to.equal(true);
        const flow = t.messages[0].flow;
        r.socket.write(bytes());
        expect(await until(() => r.ended), 'the server closed the socket').to.equal(true);
        expect(r.closeCode()).to.equal(code);
        expect(await until(() => t.closed.length === 1)).to.equal(true);
        expect(t.closed[0]).to.equal(flow);
        expect(flow.isOpen()).to.equal(false);
        expect(flow.send(Buffer.from('late'))).to.equal(false);
        expect(t.messages).to.have.length(1);
        const c = await ws();
        c.send('still here');
        expect(await until(() => t.messages.length === 2)).to.equal(true);
      });
    }

    it('echoes a close frame with its status, closes the socket and reports the flow closed once', async () => {
      const c = await ws();
      c.send('hello');
      expect(await until(() => t.messages.length === 1)).to.equal(true);
      const code = new Promise<number>((r) => c.once('close', (n) => r(n)));
      c.close(4000, 'bye');
      expect(await code).to.equal(4000);
      expect(await until(() => t.closed.length === 1)).to.equal(true);
      await sleep(100);
      expect(t.closed).to.have.length(1);
      expect(t.closed[0]).to.equal(t.messages[0].flow);
      expect(t.transport.get(t.closed[0].id)).to.equal(undefined);
    });

    it('a peer that hangs up is reported closed', async () => {
      const r = await raw();
      r.socket.write(frame(1, Buffer.from('hi')));
      expect(await until(() => t.messages.length === 1)).to.equal(true);
      r.destroy();
      expect(await until(() => t.closed.length === 1)).to.equal(true);
      expect(t.closed[0]).to.equal(t.messages[0].flow);
    });

    it('pings: a peer that answers stays, one silent since the last ping is closed and reported', async () => {
      await t.transport.close();
      t = await start(io, { pingIntervalMs: 300 });
      const c = await ws();
      c.send('answers pings');
      const r = await raw();
      r.socket.write(frame(1, Buffer.from('silent')));
      expect(await until(() => t.messages.length === 2)).to.equal(true);
      const silent = t.messages.find((m) => m.data.toString() === 'silent')!.flow;
      expect(await until(() => r.ended, 3000), 'the silent peer was dropped').to.equal(true);
      expect(r.frames.some((f) => f.op === 9), 'it was pinged first').to.equal(true);
      expect(t.closed).to.deep.equal([silent]);
      await sleep(700);
      expect(c.readyState).to.equal(WebSocket.OPEN);
    });

    it('refuses bad upgrades as the ws library does: POST 405, no key 400, version 12 400 naming 13, no sip 400', async () => {
      const answers: string[] = [];
      for (const o of [{ method: 'POST' }, { key: null }, { version: '12' }, { protocol: 'chat' }]) {
        const r = await raw(UPGRADE(t.port, o));
        answers.push(r.response.split('\r\n')[0]);
        if (o.version) expect(r.response).to.match(/\r\nSec-WebSocket-Version: 13/i);
        expect(await until(() => r.ended), 'closed after the refusal').to.equal(true);
      }
      expect(answers).to.deep.equal(['HTTP/1.1 405 Method Not Allowed', 'HTTP/1.1 400 Bad Request', 'HTTP/1.1 400 Bad Request', 'HTTP/1.1 400 Bad Request']);
      expect(t.messages).to.have.length(0);
    });

    it('close() ends every connection and reports each flow closed', async () => {
      const a = await ws();
      const b = await ws();
      a.send('a');
      b.send('b');
      expect(await until(() => t.messages.length === 2)).to.equal(true);
      const ends = [a, b].map((c) => new Promise((r) => c.once('close', r)));
      await t.transport.close();
      await Promise.all(ends);
      expect(await until(() => t.closed.length === 2)).to.equal(true);
      t = await start(io);  // for afterEach
    });
  });
}

describe('SIP over WebSocket (ws_io = native): a peer that stops reading', () => {
  const fds = () => fs.readdirSync('/proc/self/fd').length;

  /** `r` sends one message, then reads no more; the flow it came on. */
  async function stopReading(t: Awaited<ReturnType<typeof start>>, r: Raw): Promise<Flow> {
    r.socket.write(frame(1, Buffer.from('then stops reading')));
    expect(await until(() => t.messages.length === 1)).to.equal(true);
    r.socket.pause();
    return t.messages[0].flow;
  }

  it('and sends a close frame is reported closed at once, and its socket closed by the next sweeps', async function () {
    if (!nativeAddon()) this.skip();
    const t = await start('native', { pingIntervalMs: 300 });
    const before = fds();
    const r = await Raw.open(t.port);
    try {
      const flow = await stopReading(t, r);
      for (let i = 0; i < 64; i++) flow.send(Buffer.alloc(60000, 'x'));
      await sleep(50);
      r.socket.write(frame(8, Buffer.from([0x03, 0xe8])));
      expect(await until(() => t.closed.length === 1, 250), 'reported closed before any sweep').to.equal(true);
      expect(flow.isOpen()).to.equal(false);
      expect(flow.send(Buffer.from('late'))).to.equal(false);
      expect(fds(), 'its descriptor is still open, waiting for the peer').to.equal(before + 2);
      expect(await until(() => fds() === before + 1, 2000), 'closed by the sweeps').to.equal(true);
      expect(t.closed).to.have.length(1);
    } finally {
      r.destroy();
      await t.transport.close();
    }
  });

  it('is closed once more than 8 MiB waits for it, and reported', async function () {
    if (!nativeAddon()) this.skip();
    const t = await start('native');
    const r = await Raw.open(t.port);
    try {
      const flow = await stopReading(t, r);
      const chunk = Buffer.alloc(60000, 'x');
      let sent = 0;
      while (flow.send(chunk) && sent < 1000) {
        sent++;
        if (sent % 16 === 0) await sleep(1);
      }
      expect(await until(() => t.closed.length === 1)).to.equal(true);
      expect(sent * chunk.length, 'bytes accepted before it was closed').to.be.greaterThan(8 * 1024 * 1024);
      expect(flow.isOpen()).to.equal(false);
    } finally {
      r.destroy();
      await t.transport.close();
    }
  });
});
