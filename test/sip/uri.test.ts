import { expect } from 'chai';
import { parseSipUri } from '../../signaling/sip/uri';
import { parseNameAddr } from '../../signaling/sip/name-addr';
import { parseVia } from '../../signaling/sip/via';
import { parseParams } from '../../signaling/sip/headers';

describe('sip/uri, name-addr, via', () => {
  it('parses user, host, port, params and headers; keeps the user case and escapes', () => {
    const u = parseSipUri('sip:Alice%41@Example.COM:5070;transport=ws;lr?subject=x')!;
    expect(u.user).to.equal('Alice%41');
    expect(u.host).to.equal('example.com');
    expect(u.port).to.equal(5070);
    expect(u.params.get('transport')).to.equal('ws');
    expect(u.params.has('lr')).to.equal(true);
    expect(u.headers).to.equal('subject=x');
  });

  it('accepts a user part with ; and ? (RFC 4475 semiuri, intmeth)', () => {
    expect(parseSipUri('sip:user;par=u%40example.net@example.com')!.user).to.equal('user;par=u%40example.net');
    expect(parseSipUri("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com")!.host)
      .to.equal('example.com');
  });

  it('rejects hosts and ports that are not valid', () => {
    expect(parseSipUri('sip:user@exa mple.com')).to.equal(null);
    expect(parseSipUri('sip:user@host:70000')).to.equal(null);
    expect(parseSipUri('tel:+123')).to.equal(null);
  });

  it('reads addr-spec params as header params, angle-bracket params as URI params', () => {
    const a = parseNameAddr('sip:u@h;unknownparam')!;
    expect(a.uri).to.equal('sip:u@h');
    expect(a.params.has('unknownparam')).to.equal(true);
    const b = parseNameAddr('<sip:u@h;unknownparam>;expires=60')!;
    expect(b.uri).to.equal('sip:u@h;unknownparam');
    expect(b.params.get('expires')).to.equal('60');
  });

  it('keeps Contact params byte-exact, including a quoted +sip.instance', () => {
    const c = parseNameAddr('<sip:x@y.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:AbC>"')!;
    expect(c.rawParams).to.equal(';+sip.ice;reg-id=1;+sip.instance="<urn:uuid:AbC>"');
    expect(c.params.get('+sip.instance')).to.equal('"<urn:uuid:AbC>"');
  });

  it('refuses unbalanced quotes, non-token display names and spaces in <>', () => {
    expect(parseNameAddr('"Mr J. User <sip:j.user@example.com>')).to.equal(null);
    expect(parseNameAddr('Bell, Alexander <sip:a@example.com>')).to.equal(null);
    expect(parseNameAddr('< sip:t.watson@example.org >')).to.equal(null);
  });

  it('parses Via with LWS everywhere and unknown transports', () => {
    const v = parseVia('SIP  /  2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8')!;
    expect(v.transport).to.equal('TCP');
    expect(v.host).to.equal('spindle.example.com');
    expect(v.branch).to.equal('z9hG4bK9ikj8');
    expect(parseVia('SIP/2.0/FOO-BAR [2001:db8::9:1]:5070;rport')!.port).to.equal(5070);
    expect(parseVia('SIP/2.0/UDP host;;')).to.equal(null);
  });

  it('reads the usual Via spelling and the spaced one to the same result', () => {
    const plain = parseVia('SIP/2.0/udp Host.Example.com:5070;branch=z9hG4bKa;rport;received=127.0.0.1')!;
    const spaced = parseVia('SIP / 2.0 / udp  Host.Example.com : 5070 ; branch=z9hG4bKa ; rport ; received=127.0.0.1')!;
    for (const v of [plain, spaced]) {
      expect([v.protocol, v.transport, v.host, v.port, v.branch]).to.deep.equal(['2.0', 'UDP', 'host.example.com', 5070, 'z9hG4bKa']);
      expect(v.params.get('rport')).to.equal(null);
      expect(v.params.get('received')).to.equal('127.0.0.1');
    }
    expect(parseVia('SIP/2.0/UDP host:99999;branch=z9hG4bKa')).to.equal(null);
    expect(parseVia('SIP/2.0/UDP ho/st;branch=z9hG4bKa')).to.equal(null);
    expect(parseVia('SIP/2.0/UDP host:5060x')).to.equal(null);
  });

  it('looks parameters up by name, case-insensitively, the last one winning; quoted values may hold ;', () => {
    const p = parseParams(';Tag=abc;LR;x="a;b";tag=def ; y = 1')!;
    expect(p.get('tag')).to.equal('def');
    expect(p.get('lr')).to.equal(null);
    expect(p.has('lr')).to.equal(true);
    expect(p.get('x')).to.equal('"a;b"');
    expect(p.get('y')).to.equal('1');
    expect(p.get('a')).to.equal(undefined);
    expect(p.has('b"')).to.equal(false);
    expect(parseParams('')!.has('x')).to.equal(false);
  });

  it('refuses empty, unquoted-bad and half-quoted parameters', () => {
    for (const bad of [';a=b;', ';;a', ';a=', ';a b=c', ';a="b', ';a=b c', ';a=<b>']) expect(parseParams(bad), bad).to.equal(null);
  });
});
