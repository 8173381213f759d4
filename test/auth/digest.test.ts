import { expect } from 'chai';
import { DigestAuthenticator, md5, parseDigest } from '../../signaling/auth/digest';

function answer(nonce: string, nc = '00000001', password = 'secret') {
  const ha1 = md5(`alice:wac.local:${password}`);
  const ha2 = md5('REGISTER:sip:wac.local');
  const response = md5(`${ha1}:${nonce}:${nc}:cn:auth:${ha2}`);
  return parseDigest(`Digest username="alice", realm="wac.local", nonce="${nonce}", uri="sip:wac.local", response="${response}", qop=auth, nc=${nc}, cnonce="cn", algorithm=MD5`)!;
}

describe('auth/digest', () => {
  const d = new DigestAuthenticator(1000);
  after(() => d.close());
  const ha1 = md5('alice:wac.local:secret');

  it('offers MD5 with qop="auth" only', () => {
    const c = d.challenge('wac.local');
    expect(c).to.match(/^Digest realm="wac.local", nonce="[^"]+", algorithm=MD5, qop="auth"$/);
  });

  it('accepts a nonce once: a replay, even with a higher nc, is stale (the client retries with a fresh one)', () => {
    const nonce = d.newNonce();
    expect(d.verify(answer(nonce), 'REGISTER', ha1)).to.equal('ok');
    expect(d.verify(answer(nonce), 'REGISTER', ha1)).to.equal('stale');
    expect(d.verify(answer(nonce, '00000002'), 'REGISTER', ha1)).to.equal('stale');
    expect(d.verify(answer(d.newNonce()), 'REGISTER', ha1)).to.equal('ok');
  });

  it('refuses a wrong password, a forged nonce and another method', () => {
    const nonce = d.newNonce();
    expect(d.verify(answer(nonce, '00000001', 'wrong'), 'REGISTER', ha1)).to.equal('bad');
    // Another last character of the signature (replacing it with a fixed one left it unchanged 1 time in 64).
    const forged = nonce.slice(0, -1) + (nonce.endsWith('x') ? 'y' : 'x');
    expect(d.verify(answer(forged), 'REGISTER', ha1)).to.equal('bad');
    expect(d.verify(answer(nonce), 'INVITE', ha1)).to.equal('bad');
  });

  it('reports an expired nonce as stale', async () => {
    const nonce = d.newNonce();
    await new Promise((r) => setTimeout(r, 1100));
    expect(d.verify(answer(nonce), 'REGISTER', ha1)).to.equal('stale');
  });
});

describe('auth/digest parseDigest', () => {
  const fields = 'realm="wac.local", nonce="n1", uri="sip:wac.local", response="r1"';

  it('reads names in any case, LWS around "=", and commas and escaped quotes inside quoted values', () => {
    const c = parseDigest(`  digest\tUserName = "a,\\"b\\"" , ${fields},, qop=auth ,nc=00000001, CNONCE="x y"`)!;
    expect(c).to.include({ username: 'a,"b"', realm: 'wac.local', nonce: 'n1', uri: 'sip:wac.local', response: 'r1', qop: 'auth', nc: '00000001', cnonce: 'x y' });
  });

  it('keeps a value that is not a well-formed quoted string as written, so that it cannot match', () => {
    expect(parseDigest(`Digest username="alice" junk, ${fields}`)!.username).to.equal('"alice" junk');
    expect(parseDigest(`Digest ${fields}, username="alice`)!.username).to.equal('"alice');
  });

  it('refuses other schemes, a scheme with no parameters and missing fields', () => {
    expect(parseDigest(`Basic username="alice", ${fields}`)).to.equal(null);
    expect(parseDigest(`Digestusername="alice", ${fields}`)).to.equal(null);
    expect(parseDigest('Digest')).to.equal(null);
    expect(parseDigest(`Digest ${fields}`)).to.equal(null);
  });
});
