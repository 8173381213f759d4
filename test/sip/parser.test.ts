import { expect } from 'chai';
import { parseMessage, StreamFramer } from '../../signaling/sip/parser';
import { header, SipRequest, SipResponse } from '../../signaling/sip/message';
import { checkRequest } from '../../signaling/sip/validate';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'latin1');

const INVITE = crlf([
  'INVITE sip:bob@wac.local SIP/2.0',
  'Via: SIP/2.0/WS abc.invalid;branch=z9hG4bK123',
  'v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx, SIP/2.0/TCP 127.0.0.2;branch=z9hG4bKy',
  'Max-Forwards: 70',
  'To: <sip:bob@wac.local>',
  'f: "Al \\"the\\" ice" <sip:alice@wac.local>;tag=ft',
  'i: call-1',
  'CSeq: 2 INVITE',
  'X-Unknown:  keep   these  spaces',
  'Content-Type: application/sdp',
  'l: 6',
  '',
  'v=0\r\nTRAILING',
]);

describe('sip/parser', () => {
  it('parses a request with compact headers, folded lists and a body framed by Content-Length', () => {
    const m = parseMessage(INVITE) as SipRequest;
    expect(m).to.be.instanceOf(SipRequest);
    expect(m.method).to.equal('INVITE');
    expect(m.uri).to.equal('sip:bob@wac.local');
    expect(m.callId).to.equal('call-1');
    expect(m.cseq).to.deep.equal({ seq: 2, method: 'INVITE' });
    expect(m.from!.display).to.equal('Al "the" ice');
    expect(m.fromTag).to.equal('ft');
    expect(m.vias!.map((v) => v.branch)).to.deep.equal(['z9hG4bK123', 'z9hG4bKx', 'z9hG4bKy']);
    expect(m.vias![1].port).to.equal(5070);
    expect(m.body.toString()).to.equal('v=0\r\nT');
    expect(checkRequest(m)).to.equal(null);
  });

  it('keeps unknown headers and the body byte-exact, and rewrites Content-Length in bytes', () => {
    const m = parseMessage(INVITE)!;
    m.body = Buffer.from('é€', 'utf8');
    const out = m.toBuffer().toString('latin1');
    expect(out).to.contain('X-Unknown: keep   these  spaces\r\n');
    expect(out).to.contain('l: 5\r\n');
    expect(out.endsWith('\r\n\r\n' + Buffer.from('é€', 'utf8').toString('latin1'))).to.equal(true);
  });

  it('serialises byte-exact: start line, each header as name: value (empty and 8-bit values too), one Content-Length, the body', () => {
    const req = new SipRequest('OPTIONS', 'sip:bob@example.com', [
      header('Via', 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc'), header('Subject', ''),
      header('X-Latin', Buffer.from('caf\u00e9 \u20ac', 'utf8').toString('latin1')),
      header('Content-Length', '99'), header('l', '7'),
    ], Buffer.from([0, 1, 2, 0xff]));
    const expected = Buffer.concat([Buffer.from('OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc\r\n' +
      'Subject: \r\nX-Latin: '), Buffer.from('caf\u00e9 \u20ac', 'utf8'), Buffer.from('\r\nContent-Length: 4\r\n\r\n'), Buffer.from([0, 1, 2, 0xff])]);
    expect(req.toBuffer().equals(expected), req.toBuffer().toString('latin1')).to.equal(true);
    // Without a Content-Length one is added; a response's start line carries its status and reason.
    const res = parseMessage(Buffer.from('SIP/2.0 486 Busy Here\r\nCall-ID: x\r\n\r\n'))!;
    expect(res.toBuffer().toString('latin1')).to.equal('SIP/2.0 486 Busy Here\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n');
  });

  it('removes the first element of a multi-value Via line only', () => {
    const m = parseMessage(INVITE)!;
    m.removeFirst('via');
    m.removeFirst('via');
    expect(m.vias!.map((v) => v.branch)).to.deep.equal(['z9hG4bKy']);
  });

  it('parses a response with an empty reason phrase', () => {
    const m = parseMessage(crlf(['SIP/2.0 100 ', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'CSeq: 1 INVITE', 'Call-ID: x', '', ''])) as SipResponse;
    expect(m.status).to.equal(100);
    expect(m.reason).to.equal('');
  });

  it('flags a Content-Length larger than the datagram', () => {
    const m = parseMessage(crlf(['OPTIONS sip:wac.local SIP/2.0', 'Content-Length: 10', '', 'abc']))!;
    expect(m.defect!.status).to.equal(400);
  });

  it('drops garbage that has no start line', () => {
    expect(parseMessage(Buffer.from('\r\n\r\n'))).to.equal(null);
    expect(parseMessage(Buffer.from('hello world\r\nno colon here\r\n\r\n'))).to.equal(null);
  });

  it('frames a TCP stream across chunk boundaries and reports keep-alives', () => {
    const f = new StreamFramer(65536);
    const msg = crlf(['OPTIONS sip:wac.local SIP/2.0', 'Content-Length: 3', '', 'abc']);
    const both = Buffer.concat([Buffer.from('\r\n\r\n'), msg, msg]);
    const out1 = f.push(both.subarray(0, 20)) as unknown[];
    const out2 = f.push(both.subarray(20)) as Buffer[];
    expect(out1).to.deep.equal(['ping']);
    expect(out2.length).to.equal(2);
    expect(out2[1].equals(msg)).to.equal(true);
    expect(new StreamFramer(65536).push(crlf(['OPTIONS sip:a SIP/2.0', 'Content-Length: -1', '', '']))).to.equal('error');
  });
});
