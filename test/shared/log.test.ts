import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger } from '../../shared/log';

function capture() {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { dest, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it('writes one JSON line per event at or above the level', () => {
    const { dest, records } = capture();
    const log = createLogger('info', dest);
    log.debug('hidden');
    log.info({ call: 'abc' }, 'first');
    log.warn('second');
    expect(records().map((r) => [r.msg, r.level])).to.deep.equal([
      ['first', 30],
      ['second', 40],
    ]);
    expect(records()[0].call).to.equal('abc');
  });

  it('redacts secrets at the top level and nested', () => {
    const { dest, records } = capture();
    createLogger('info', dest).info(
      {
        password: 'p1',
        ha1: 'h',
        token: 't',
        jwt: 'j',
        user: { password: 'p2', name: 'alice' },
        headers: { Authorization: 'Digest x', 'Proxy-Authorization': 'Digest y', via: 'SIP/2.0/WS' },
        config: { auth: { jwt_secret: 's', admin_password: 'a' } },
      },
      'secrets',
    );
    const text = JSON.stringify(records()[0]);
    for (const secret of ['p1', 'p2', '"h"', '"t"', '"j"', 'Digest', '"s"', '"a"']) expect(text).not.to.contain(secret);
    expect(text).to.contain('alice').and.to.contain('SIP/2.0/WS');
  });

  it('silent logs nothing', () => {
    const { dest, records } = capture();
    createLogger('silent', dest).error('nothing');
    expect(records()).to.deep.equal([]);
  });
});
