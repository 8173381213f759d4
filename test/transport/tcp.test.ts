import { expect } from 'chai';
import net from 'node:net';
import { parseMessage } from '../../signaling/sip/parser';
import { SipResponse } from '../../signaling/sip/message';
import { startTestServer, TestServer } from '../support/server';

function options(branch: string): string {
  return [`OPTIONS sip:wac.local SIP/2.0`, `Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK${branch}`, 'Max-Forwards: 70',
    'From: <sip:probe@wac.local>;tag=1', 'To: <sip:wac.local>', `Call-ID: tcp-${branch}`, 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n');
}

describe('SIP over TCP', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer();
  });
  after(() => srv.close());

  it('frames messages split across segments and sent back to back, answers on the same connection', async () => {
    const sock = net.connect(srv.sipPort, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let received = '';
    sock.on('data', (d) => (received += d.toString('latin1')));
    const two = options('a1') + options('a2');
    sock.write(two.slice(0, 37));
    await new Promise((r) => setTimeout(r, 50));
    sock.write(two.slice(37));
    sock.write('\r\n\r\n');
    await new Promise((r) => setTimeout(r, 300));
    const parts = received.split(/(?=SIP\/2\.0 )/).filter((p) => p.startsWith('SIP/2.0'));
    expect(parts.length).to.equal(2);
    const res = parseMessage(Buffer.from(parts[0], 'latin1')) as SipResponse;
    expect(res.status).to.equal(200);
    expect(received.endsWith('\r\n')).to.equal(true);
    sock.destroy();
  });

  it('closes a connection whose Content-Length is negative, and keeps serving others', async () => {
    const bad = net.connect(srv.sipPort, '127.0.0.1');
    const closed = new Promise((r) => bad.once('close', r));
    bad.write('OPTIONS sip:wac.local SIP/2.0\r\nContent-Length: -5\r\n\r\n');
    await closed;
    const good = net.connect(srv.sipPort, '127.0.0.1');
    let got = '';
    good.on('data', (d) => (got += d.toString()));
    good.write(options('b1'));
    await new Promise((r) => setTimeout(r, 200));
    expect(got).to.match(/^SIP\/2\.0 200 OK/);
    good.destroy();
  });
});
