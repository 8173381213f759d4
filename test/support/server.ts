/**
 * Starts the real server (signaling + admin API) on ephemeral loopback ports, with an embedded store
 * in a temporary folder or, with `redisUrl`, a Redis store.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../shared/config';
import { createLogger } from '../../shared/log';
import { Users } from '../../shared/model/users';
import type { SignalingServer } from '../../signaling/server';
import { startWac, Wac } from '../../wac';
import { startRedisOrSkip } from './redis';

export interface TestServer {
  domain: string;
  wsUrl: string;
  wsPort: number;
  sipPort: number;
  adminUrl: string;
  signaling: SignalingServer;
  wac: Wac;
  users: Users;
  addUser(username: string, password: string): Promise<void>;
  /** A user never seen before in this run (so bindings never leak between tests), with its password. */
  freshUser(prefix: string): Promise<{ username: string; password: string }>;
  bindings(username: string): Promise<number>;
  close(): Promise<void>;
}

export const ADMIN_PASSWORD = 'admin-secret';

let userSeq = 0;

/**
 * `ini` is appended to the test defaults (ephemeral ports, silent logs, a first admin, user groups on);
 * `usersGroup: false` leaves out the `backend[] = UsersGroup` / `module = UsersGroup` lines.
 */
export async function startTestServer(opts: { ini?: string; redisUrl?: string; dir?: string; usersGroup?: boolean } = {}): Promise<TestServer> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'wac-test-'));
  const config = parseConfig(`${opts.usersGroup === false ? '' : 'backend[] = UsersGroup\nmodule = UsersGroup'}
[server]
domain = wac.local
bind = 127.0.0.1
ws_port = 0
sip_port = 0
admin_port = 0
log_level = ${process.env.WAC_TEST_LOG ?? 'silent'}
[auth]
admin_password = ${ADMIN_PASSWORD}
${opts.ini ?? ''}
[store]
backend = ${opts.redisUrl ? 'redis' : 'memory'}
dir = ${dir}
${opts.redisUrl ? `redis_url = ${opts.redisUrl}` : ''}
`);
  const wac = await startWac(config, createLogger(config.server.log_level));
  const users = new Users(wac.store);
  const domain = config.server.domain;
  const signaling = wac.signaling;
  return {
    domain, signaling, wac, users,
    wsUrl: `ws://127.0.0.1:${signaling.wsPort}`,
    wsPort: signaling.wsPort,
    sipPort: signaling.sipPort,
    adminUrl: `http://127.0.0.1:${wac.adminPort}`,
    async addUser(username, password) {
      await users.create({ domain, username, password });
    },
    async freshUser(prefix) {
      const username = `${prefix}${++userSeq}`;
      const password = `pw-${username}-secret`;
      await users.create({ domain, username, password });
      return { username, password };
    },
    async bindings(username) {
      return signaling.location.count(`${username}@${domain}`);
    },
    async close() {
      await wac.close();
      if (!opts.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const BACKENDS = ['memory', 'redis'] as const;
export type Backend = (typeof BACKENDS)[number];

/**
 * A test server on the embedded store or on a redis-server of its own (started here; the suite is
 * skipped outside CI when redis-server is missing). Closing the server stops that redis-server too.
 */
export async function startServerOn(backend: Backend, ctx: Mocha.Context, opts: Omit<Parameters<typeof startTestServer>[0] & object, 'redisUrl'> = {}): Promise<TestServer> {
  if (backend === 'memory') return startTestServer(opts);
  const redis = await startRedisOrSkip(ctx);
  const srv = await startTestServer({ ...opts, redisUrl: redis.url });
  return {
    ...srv,
    async close() {
      await srv.close();
      await redis.stop();
    },
  };
}
