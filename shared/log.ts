import pino from 'pino';

export type Logger = pino.Logger;

// SIP and HTTP header names show up both as written on the wire and lower-cased.
const secretFields = [
  'password', 'admin_password', 'ha1', 'jwt', 'jwt_secret', 'token',
  'authorization', 'Authorization', 'proxy-authorization', 'Proxy-Authorization',
];

// Secrets usually travel one or two levels deep (e.g. { headers: { authorization } },
// { config: { auth: { jwt_secret } } }), so cover the field at depth 0..2.
const redactPaths = secretFields
  .map((f) => `["${f}"]`)
  .flatMap((f) => [f, `*${f}`, `*.*${f}`]);

export function createLogger(level: string, dest?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    redact: { paths: redactPaths, censor: '[redacted]' },
  };
  return dest ? pino(options, dest) : pino(options);
}
