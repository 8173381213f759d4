import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';

const repoRoot = path.resolve(__dirname, '../..');

/** Whether String.prototype keeps V8's fast layout once `modules` are loaded, read in a fresh process. */
function stringPrototypeFastAfter(modules: string[]): boolean {
  const script = `${modules.map((m) => `require(${JSON.stringify(m)});`).join('')} process.stdout.write(String(%HasFastProperties(String.prototype)));`;
  return execFileSync(process.execPath, ['--allow-natives-syntax', '-r', 'tsx/cjs', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 }) === 'true';
}

describe('ioredis as loaded by shared/ioredis', () => {
  it('leaves String.prototype fast, so string methods stay inlined in optimized code', () => {
    expect(stringPrototypeFastAfter(['./shared/ioredis'])).to.equal(true);
  });

  it('holds for the whole server, which loads both Redis stores', () => {
    expect(stringPrototypeFastAfter(['./wac'])).to.equal(true);
  });
});
