/**
 * RFC 4475 torture messages against the real server, over WebSocket (one binary message per file,
 * RFC 7118) and over UDP (top Via sent-by rewritten to our own loopback socket so that no answer can
 * go anywhere else), plus the WebSocket upgrade and framing rules. After every file the same
 * connection must still answer an OPTIONS, and after the whole run the server must still register.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { startTestServer, TestServer } from '../support/server';
import { Channel, UdpChannel, WsChannel } from './channel';
import { EXPECTATIONS, Expectation, VARIANTS } from './expectations';
import { buildAckFor, buildOptions, buildRegister, digestAnswer, headerEnd, LiteMessage, parseLite, rewriteTopVia, token } from './sip-lite';

const TORTURE_DIR = path.resolve(__dirname, '../../../shared/torture');
/** How long a message that must be dropped gets to (wrongly) produce an answer. */
const SILENCE_MS = 300;
/** How long an expected answer may take. */
const ANSWER_MS = 3000;
/** Extra time after the final answer, to catch a second (duplicate or smuggled) answer. */
const SETTLE_MS = 150;

interface Case {
  name: string;
  raw: Buffer;
  expect: Expectation;
}

function loadFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const f of fs.readdirSync(TORTURE_DIR).filter((n) => n.endsWith('.dat')).sort()) {
    files.set(f.slice(0, -4), fs.readFileSync(path.join(TORTURE_DIR, f)));
  }
  return files;
}

const FILES = loadFiles();

function cases(): Case[] {
  const out: Case[] = [...FILES].map(([name, raw]) => ({ name, raw, expect: EXPECTATIONS[name] }));
  for (const v of VARIANTS) {
    const raw = FILES.get(v.file)!;
    const end = headerEnd(raw);
    const head = Buffer.from(v.rewrite(raw.subarray(0, end).toString('latin1')), 'latin1');
    out.push({ name: v.name, raw: Buffer.concat([head, raw.subarray(end)]), expect: v.expect });
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isFinal = (m: LiteMessage) => m.isResponse && m.status >= 200;
const describeMsg = (m: LiteMessage) => `${m.startLine} (Call-ID ${JSON.stringify(m.get('call-id'))})`;

function requestUri(raw: Buffer): string | null {
  const line = raw.subarray(0, raw.indexOf('\r\n', 0, 'latin1')).toString('latin1');
  const m = /^\S+ +(.+?) +SIP\/\S+ *$/.exec(line);
  return m ? m[1] : null;
}

/** OPTIONS to the server's own domain on the same channel: must get a 200. */
async function probe(ch: Channel, domain: string): Promise<void> {
  const since = ch.received.length;
  const opt = buildOptions(domain, ch.local);
  ch.send(opt.buf);
  const res = await ch.waitFor((m) => m.isResponse && m.get('call-id') === opt.callId && m.status >= 200, ANSWER_MS, since);
  expect(res, 'no answer to OPTIONS sip:' + domain + ' after the torture message: connection unusable').to.not.equal(null);
  expect(res!.status, `OPTIONS sip:${domain}: ${res!.startLine}`).to.equal(200);
}

/** Sends one torture message and checks the answer (or the silence) against the expectation. */
async function runCase(c: Case, ch: Channel, server: TestServer): Promise<void> {
  let data = c.raw;
  if (ch.local.transport === 'UDP') {
    const rewritten = rewriteTopVia(c.raw, ch.local.host, ch.local.port);
    expect(rewritten, `${c.name}: no top Via to rewrite`).to.not.equal(null);
    data = rewritten!;
  }
  const sent = parseLite(data);
  ch.send(data);

  if (c.expect.kind === 'drop') {
    await sleep(SILENCE_MS);
    const got = ch.received.map((r) => describeMsg(r.msg));
    expect(got, `${c.name} is a stray response and must be dropped silently (${c.expect.why})`).to.deep.equal([]);
  } else {
    const res = await ch.waitFor(isFinal, ANSWER_MS);
    if (!res && c.expect.udpMayDrop && ch.local.transport === 'UDP' && ch.received.length === 0) {
      // No parsable Via: nowhere to send a UDP answer; silence is fine, the socket must still work.
      await probe(ch, server.domain);
      return;
    }
    const provisional = ch.received.map((r) => r.msg.startLine);
    expect(res, `${c.name}: no final response within ${ANSWER_MS} ms (got: ${JSON.stringify(provisional)}); expected ${c.expect.codes.join('/')}: ${c.expect.why}`)
      .to.not.equal(null);
    expect(c.expect.codes, `${c.name}: got "${res!.startLine}", expected ${c.expect.codes.join(' or ')} (${c.expect.why})`)
      .to.include(res!.status);
    const callIds = sent.getAll('call-id');
    if (callIds.length === 1) {
      expect(res!.get('call-id'), `${c.name}: response Call-ID must be the request's`).to.equal(callIds[0]);
    }
    c.expect.check?.(res!);
    if (sent.method === 'INVITE') {
      const uri = requestUri(data);
      const ack = uri ? buildAckFor(res!, uri) : null;
      if (ack) ch.send(ack);
    }
    await sleep(SETTLE_MS);
    const finals = ch.received.filter((r) => isFinal(r.msg)).map((r) => describeMsg(r.msg));
    expect(finals, `${c.name}: exactly one final response expected`).to.have.length(1);
  }
  if (c.name === 'dblreq') {
    // The trailing INVITE in the same datagram / WS message must never be processed.
    const smuggled = ch.received.filter((r) => (r.msg.get('call-id') ?? '').includes('dblreq.0ha0isnda977644900765'));
    expect(smuggled.map((r) => describeMsg(r.msg)), 'dblreq: the trailing INVITE bytes must be ignored').to.deep.equal([]);
  }
  await probe(ch, server.domain);
}

/** A full digest REGISTER (401 then 200) on `ch`; returns the final response. */
async function register(ch: Channel, server: TestServer, user: string, password: string): Promise<LiteMessage> {
  const callId = `reg-${token()}`;
  const contact = ch.local.transport === 'WS'
    ? `<sip:${user}@${ch.local.host};transport=ws>`
    : `<sip:${user}@${ch.local.host}:${ch.local.port}>`;
  let since = ch.received.length;
  ch.send(buildRegister({ domain: server.domain, user, local: ch.local, callId, cseq: 1, contact }));
  const challenge = await ch.waitFor((m) => isFinal(m) && m.get('call-id') === callId, ANSWER_MS, since);
  expect(challenge?.status, 'REGISTER without credentials').to.equal(401);
  const auth = digestAnswer(challenge!.get('www-authenticate')!, 'REGISTER', `sip:${server.domain}`, user, password);
  since = ch.received.length;
  ch.send(buildRegister({ domain: server.domain, user, local: ch.local, callId, cseq: 2, contact, authorization: auth }));
  const res = await ch.waitFor((m) => isFinal(m) && m.get('call-id') === callId, ANSWER_MS, since);
  expect(res, 'no answer to the authenticated REGISTER').to.not.equal(null);
  return res!;
}

interface UpgradeResult {
  status: number;
  headers: http.IncomingHttpHeaders;
}

/** A raw HTTP upgrade request, to see exactly what the server answers. */
function rawUpgrade(port: number, protocol?: string): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    };
    if (protocol !== undefined) headers['Sec-WebSocket-Protocol'] = protocol;
    const req = http.request({ host: '127.0.0.1', port, path: '/', headers });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('error', (err) => {
      // A server that just closes the socket refuses the upgrade too.
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || /socket hang up/.test(err.message)) resolve({ status: 0, headers: {} });
      else reject(err);
    });
    req.setTimeout(3000, () => req.destroy(new Error('upgrade request timed out')));
    req.end();
  });
}

describe('RFC 4475 torture tests', function () {
  this.timeout(20000);
  let server: TestServer;
  const ALL = cases();

  before(async () => {
    server = await startTestServer();
    await server.addUser('alice', 'alice-secret');
  });

  after(async () => {
    await server?.close();
  });

  it('has the 49 files of RFC 4475 and an expectation for each', () => {
    expect(FILES.size).to.equal(49);
    expect([...FILES.keys()].sort()).to.deep.equal(Object.keys(EXPECTATIONS).sort());
  });

  it('the UDP rewrite replaces only the sent-by of the top Via, in every file', () => {
    const put = '127.0.0.1:5';
    for (const [name, raw] of FILES) {
      const out = rewriteTopVia(raw, '127.0.0.1', 5);
      expect(out, `${name}: no Via found`).to.not.equal(null);
      let a = 0;
      while (a < raw.length && raw[a] === out![a]) a++;
      let b = 0;
      while (b < raw.length - a && raw[raw.length - 1 - b] === out![out!.length - 1 - b]) b++;
      const removed = raw.subarray(a, raw.length - b).toString('latin1');
      const inserted = out!.subarray(a, out!.length - b).toString('latin1');
      // The common prefix/suffix may eat into equal characters; rebuild the full tokens around them.
      const before = raw.subarray(0, a).toString('latin1').match(/[^\s;,]*$/)![0];
      const after = raw.subarray(raw.length - b).toString('latin1').match(/^[^\s;,]*/)![0];
      expect(`${before}${inserted}${after}`, `${name}: inserted text`).to.equal(put);
      expect(`${before}${removed}${after}`, `${name}: replaced text must be one host[:port] token`).to.match(/^[^\s;,]+$/);
      expect(parseLite(out!).getAll('via')[0], `${name}: top Via after the rewrite`).to.match(/^SIP\s*\/\s*\S+\s*\/\s*\S+\s+127\.0\.0\.1:5(;|$)/i);
      expect(out!.subarray(headerEnd(out!)).equals(raw.subarray(headerEnd(raw))), `${name}: body changed`).to.equal(true);
    }
  });

  describe('over WebSocket: each file as one binary message on its own connection', () => {
    for (const c of ALL) {
      it(`${c.name}: ${c.expect.kind === 'drop' ? 'dropped' : c.expect.codes.join('/')}`, async () => {
        const ch = await WsChannel.open(server.wsUrl);
        try {
          await runCase(c, ch, server);
          expect(ch.isOpen, `${c.name}: the server closed the WebSocket`).to.equal(true);
        } finally {
          await ch.close();
        }
      });
    }
  });

  describe('over UDP: top Via sent-by rewritten to our socket', () => {
    for (const c of ALL) {
      it(`${c.name}: ${c.expect.kind === 'drop' ? 'dropped' : c.expect.codes.join('/')}`, async () => {
        const ch = await UdpChannel.open(server.sipPort);
        try {
          await runCase(c, ch, server);
        } finally {
          await ch.close();
        }
      });
    }
  });

  describe('WebSocket upgrade and framing (RFC 7118)', () => {
    it('refuses an upgrade without the sip sub-protocol', async () => {
      const none = await rawUpgrade(server.wsPort);
      expect(none.status, 'no Sec-WebSocket-Protocol').to.not.equal(101);
      expect(none.status).to.be.oneOf([0, 400, 403, 426]);
      const other = await rawUpgrade(server.wsPort, 'chat');
      expect(other.status, 'Sec-WebSocket-Protocol: chat').to.not.equal(101);
      expect(other.status).to.be.oneOf([0, 400, 403, 426]);
    });

    it('accepts sip and echoes it in the 101', async () => {
      const r = await rawUpgrade(server.wsPort, 'sip');
      expect(r.status).to.equal(101);
      expect(r.headers['sec-websocket-protocol']).to.equal('sip');
      const mixed = await rawUpgrade(server.wsPort, 'chat, sip');
      expect(mixed.status).to.equal(101);
      expect(mixed.headers['sec-websocket-protocol']).to.equal('sip');
    });

    it('the ws client cannot open a connection without sip', async () => {
      let err: unknown = null;
      try {
        const ch = await WsChannel.open(server.wsUrl, []);
        await ch.close();
      } catch (e) {
        err = e;
      }
      expect(String(err)).to.match(/upgrade refused|Unexpected server response|socket hang up|ECONNRESET/);
    });

    it('a text frame works like a binary frame', async () => {
      const ch = await WsChannel.open(server.wsUrl);
      try {
        const opt = buildOptions(server.domain, ch.local);
        ch.send(opt.buf.toString('latin1'));
        const res = await ch.waitFor((m) => m.isResponse && m.get('call-id') === opt.callId, ANSWER_MS);
        expect(res?.status).to.equal(200);
      } finally {
        await ch.close();
      }
    });

    it('answers a CRLFCRLF keep-alive with CRLF and ignores a lone CRLF', async () => {
      const ch = await WsChannel.open(server.wsUrl);
      try {
        ch.send(Buffer.from('\r\n\r\n'));
        await sleep(SILENCE_MS);
        expect(ch.received.map((r) => r.data.toString('latin1'))).to.deep.equal(['\r\n']);
        ch.send(Buffer.from('\r\n'));
        await sleep(SILENCE_MS);
        expect(ch.received).to.have.length(1);
        expect(ch.isOpen).to.equal(true);
        await probe(ch, server.domain);
      } finally {
        await ch.close();
      }
    });

    it('closes the connection with 1009 on a message over 64 KiB and stays up', async () => {
      const ch = await WsChannel.open(server.wsUrl);
      try {
        const opt = buildOptions(server.domain, ch.local).buf.toString('latin1');
        const big = opt.replace('Accept: application/sdp', `X-Pad: ${'a'.repeat(70 * 1024)}`);
        ch.send(Buffer.from(big, 'latin1'));
        expect(await ch.waitClosed(3000), 'connection still open after a 70 KiB message').to.equal(true);
        expect(ch.closeCode).to.equal(1009);
      } finally {
        await ch.close();
      }
      const again = await WsChannel.open(server.wsUrl);
      try {
        await probe(again, server.domain);
      } finally {
        await again.close();
      }
    });
  });

  describe('after the whole run the server still works', () => {
    it('answers OPTIONS and a digest REGISTER over UDP', async () => {
      const ch = await UdpChannel.open(server.sipPort);
      try {
        await probe(ch, server.domain);
        const res = await register(ch, server, 'alice', 'alice-secret');
        expect(res.status, res.startLine).to.equal(200);
        expect(await server.bindings('alice')).to.equal(1);
      } finally {
        await ch.close();
      }
    });

    it('answers OPTIONS and a digest REGISTER over WebSocket', async () => {
      const ch = await WsChannel.open(server.wsUrl);
      try {
        await probe(ch, server.domain);
        const res = await register(ch, server, 'alice', 'alice-secret');
        expect(res.status, res.startLine).to.equal(200);
        expect(await server.bindings('alice')).to.equal(2);
      } finally {
        await ch.close();
      }
    });
  });
});
