/** Password material: digest HA1 for SIP and a slow scrypt hash for logins. Clear passwords are never stored. */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

// N=2^14, r=8 costs ~16 MiB and tens of ms per check: slow enough to hurt offline
// guessing, cheap enough for interactive admin logins.
const SCRYPT = { N: 16384, r: 8, p: 1, keyLen: 32, saltLen: 16 };

export function digestHa1(username: string, realm: string, password: string): string {
  return createHash('md5').update(`${username}:${realm}:${password}`).digest('hex');
}

/** `cost` only for bulk test data, which must not take minutes to make. */
export async function slowHash(password: string, cost: { N: number } = SCRYPT): Promise<string> {
  const { r, p, keyLen, saltLen } = SCRYPT;
  const { N } = cost;
  const salt = randomBytes(saltLen);
  const hash = await scryptAsync(password, salt, keyLen, { N, r, p });
  return ['scrypt', N, r, p, salt.toString('base64'), hash.toString('base64')].join('$');
}

export async function verifySlowHash(stored: string, password: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n), r: Number(r), p: Number(p),
  });
  return timingSafeEqual(actual, expected);
}

function scryptAsync(password: string, salt: Buffer, keyLen: number, params: { N: number; r: number; p: number }) {
  return new Promise<Buffer>((resolve, reject) => {
    // maxmem follows the parameters so hashes stored with a higher cost still verify.
    scrypt(password, salt, keyLen, { ...params, maxmem: 256 * params.N * params.r * params.p }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}
