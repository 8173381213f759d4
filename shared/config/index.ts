import { readFileSync } from 'node:fs';
import { isIP, isIPv4 } from 'node:net';
import { parse as parseIni } from 'ini';
import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

// INI values arrive as strings; accept only plain decimal integers so that
// typos like "8080x" or "1e3" fail loudly instead of being coerced.
const int = (min: number, max: number) =>
  z.union([z.string(), z.number()]).transform((raw, ctx) => {
    const text = String(raw).trim();
    if (!/^-?\d+$/.test(text)) {
      ctx.addIssue({ code: 'custom', message: `must be an integer, got ${JSON.stringify(raw)}` });
      return z.NEVER;
    }
    const n = Number(text);
    if (n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max}, got ${text}` });
      return z.NEVER;
    }
    return n;
  });

const port = () => int(0, 65535);

// `key =` with nothing after it means "not set" rather than an empty path or secret.
const optionalString = () =>
  z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

const nonEmpty = () => z.string().trim().min(1, 'must not be empty');

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const serverSchema = z
  .strictObject({
    domain: nonEmpty().default('wac.local'),
    bind: nonEmpty().default('127.0.0.1'),
    ws_port: port().default(8080),
    sip_port: port().default(5060),
    admin_port: port().default(8001),
    tls_cert: optionalString(),
    tls_key: optionalString(),
    log_level: z
      .enum(logLevels, { error: `must be one of ${logLevels.join(', ')}` })
      .default('info'),
    ws_max_payload: int(1, 2 ** 31 - 1).default(65536),
    ws_ping_interval: int(0, 86400).default(30),
    udp_io: z.enum(['auto', 'native', 'node'], { error: 'must be auto, native or node' }).default('auto'),
    ws_io: z.enum(['auto', 'native', 'node'], { error: 'must be auto, native or node' }).default('auto'),
  })
  .superRefine((s, ctx) => {
    if ((s.tls_cert === undefined) !== (s.tls_key === undefined)) {
      const missing = s.tls_cert === undefined ? 'tls_cert' : 'tls_key';
      ctx.addIssue({
        code: 'custom',
        path: [missing],
        message: 'required when the other of tls_cert/tls_key is set',
      });
    }
  });

const registrarSchema = z
  .strictObject({
    min_expires: int(1, 2 ** 31 - 1).default(60),
    max_expires: int(1, 2 ** 31 - 1).default(3600),
    default_expires: int(1, 2 ** 31 - 1).default(600),
  })
  .superRefine((r, ctx) => {
    if (r.min_expires > r.max_expires) {
      ctx.addIssue({ code: 'custom', path: ['min_expires'], message: 'must not exceed max_expires' });
    }
    if (r.default_expires < r.min_expires || r.default_expires > r.max_expires) {
      ctx.addIssue({
        code: 'custom',
        path: ['default_expires'],
        message: 'must lie between min_expires and max_expires',
      });
    }
  });

const proxySchema = z.strictObject({
  timer_c: int(1, 86400).default(180),
});

// RFC 3261 §17.1.1.1's base timer values, in milliseconds; every transaction timer derives from them.
const timersSchema = z
  .strictObject({
    t1: int(1, 60000).default(500),
    t2: int(1, 600000).default(4000),
    t4: int(1, 600000).default(5000),
  })
  .superRefine((t, ctx) => {
    if (t.t2 < t.t1) ctx.addIssue({ code: 'custom', path: ['t2'], message: 'must not be below t1' });
  });

const storeSchema = z.strictObject({
  backend: z.enum(['memory', 'redis'], { error: 'must be memory or redis' }).default('memory'),
  dir: nonEmpty().default('./data'),
  redis_url: nonEmpty().default('redis://127.0.0.1:6379'),
});

const authSchema = z.strictObject({
  jwt_secret: optionalString(),
  admin_username: nonEmpty().default('admin'),
  admin_password: optionalString(),
  token_expires: int(60, 31 * 86400).default(3600),
  refresh_expires: int(60, 365 * 86400).default(30 * 86400),
});

const trunkSchema = z.strictObject({
  // Dotted-decimal with no leading zeros: `010.0.0.1` would be octal to some resolvers and cannot
  // be sent to by the native UDP socket.
  address: nonEmpty().refine((a) => isIPv4(a), 'must be an IPv4 address'),
  port: int(1, 65535).default(5060),
  transport: z.enum(['udp', 'tcp'], { error: 'must be udp or tcp' }).default('udp'),
  /** Source addresses trusted as this trunk without digest; default: its address. */
  allow: z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]))
    // Compared as text with a message's source address: anything but an IP address would never match.
    .refine((v) => v.every((a) => isIP(a) !== 0), 'must be IP addresses').optional(),
  /** Host of the Request-URI and To of calls sent to the trunk; default: its address. */
  domain: optionalString(),
  /** Outbound digest credentials, used when the trunk challenges. */
  username: optionalString(),
  password: optionalString(),
});

export type TrunkConfig = Omit<z.output<typeof trunkSchema>, 'allow'> & { name: string; allow: string[] };

const groupsSchema = z.strictObject({
  ring_timeout: int(1, 3600).default(30),
});

const usersSchema = z.strictObject({
  default_timezone: nonEmpty().default('Europe/Madrid'),
  default_locale: nonEmpty().default('en-US'),
});

const configSchema = z.strictObject({
  // `backend = X` without [] is a common slip; treat it as a one-element list.
  backend: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .default([]),
  module: optionalString(),
  server: serverSchema.prefault({}),
  registrar: registrarSchema.prefault({}),
  proxy: proxySchema.prefault({}),
  timers: timersSchema.prefault({}),
  store: storeSchema.prefault({}),
  auth: authSchema.prefault({}),
  users: usersSchema.prefault({}),
  groups: groupsSchema.prefault({}),
  /** `[trunk.<name>]` sections. */
  trunk: z.record(z.string(), trunkSchema).default({}),
});

export type Config = z.output<typeof configSchema> & { usersGroupEnabled: boolean; trunks: TrunkConfig[] };

function describeIssue(issue: z.core.$ZodIssue, raw: Record<string, unknown>): string[] {
  const where = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    // ini turns `[a.b]` headers into nested objects, so an object value is a section.
    const parent = issue.path.reduce<unknown>((node, k) => (node as Record<PropertyKey, unknown>)[k], raw);
    return issue.keys.map((key) => {
      const name = where ? `${where}.${key}` : key;
      const value = (parent as Record<string, unknown>)[key];
      const isSection = typeof value === 'object' && value !== null && !Array.isArray(value);
      return isSection ? `[${name}]: unknown section` : `${name}: unknown key`;
    });
  }
  return [`${where || '(top level)'}: ${issue.message}`];
}

export function parseConfig(text: string, source = '<string>'): Config {
  const raw = parseIni(text) as Record<string, unknown>;
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.flatMap((i) => describeIssue(i, raw));
    throw new ConfigError(`invalid configuration in ${source}: ${problems.join('; ')}`);
  }
  const trunks = Object.entries(result.data.trunk).map(([name, t]) => ({ ...t, name, allow: t.allow ?? [t.address] }));
  return { ...result.data, usersGroupEnabled: result.data.backend.includes('UsersGroup'), trunks };
}

export function loadConfig(path: string = process.env.WAC_INI ?? './wac.ini'): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read configuration ${path}: ${(err as Error).message}`);
  }
  return parseConfig(text, path);
}
