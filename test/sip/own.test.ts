import v8 from 'node:v8';
import vm from 'node:vm';
import { expect } from 'chai';
import { own } from '../../signaling/sip/message';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Heap bytes still used per kept key after its message is dropped, for keys made by `make`. */
function retainedPerKey(make: (key: string) => string): number {
  const N = 5000;
  const kept: string[] = [];
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < N; i++) {
    // A header block as the parser sees it; the key is built from a substring of it, like a transaction key.
    const head = Buffer.from(`REGISTER sip:wac.local SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK${i}abcdef;rport\r\n${'X-Filler: y\r\n'.repeat(150)}`).toString('latin1');
    const start = head.indexOf('z9hG4bK');
    const branch = head.slice(start, head.indexOf(';rport'));
    kept.push(make(`${branch}|127.0.0.1:5060|REGISTER`));
  }
  gc();
  const per = (process.memoryUsage().heapUsed - before) / N;
  expect(kept).to.have.length(N);
  return per;
}

describe('own', () => {
  it('returns an equal string', () => {
    const head = `INVITE sip:a@b SIP/2.0\r\nCall-ID: ${'c'.repeat(40)}\r\n`;
    const id = head.slice(head.indexOf('Call-ID: ') + 9, head.length - 2);
    expect(own(id)).to.equal(id);
    expect(own('short')).to.equal('short');
  });

  it('keeps a key built from a substring from holding the whole message in memory', () => {
    const shared = retainedPerKey((k) => k);
    const owned = retainedPerKey(own);
    // The header block is ~2 KB: a kept key that shares it costs that much, an owned one ~100 bytes.
    expect(shared).to.be.above(1500);
    expect(owned).to.be.below(300);
  });
});
