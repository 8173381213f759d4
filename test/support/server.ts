/** Starts a real server on ephemeral loopback ports with an embedded store in a temporary folder. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../shared/config';
import { createLogger } from '../../shared/log';
import { Users } from '../../shared/model/users';
import { EmbeddedStore } from '../../shared/store/embedded';
import { startSignaling, SignalingServer } from '../../signaling/server';

export interface TestServer {
  domain: string;
  wsUrl: string;
  wsPort: number;
  sipPort: number;
  signaling: SignalingServer;
  addUser(username: string, password: string): Promise<void>;
  bindings(username: string): Promise<number>;
  close(): Promise<void>;
}

/** `ini` is appended to the test defaults (ephemeral ports, silent logs). */
export async function startTestServer(opts: { ini?: string } = {}): Promise<TestServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-test-'));
  const config = parseConfig(`[server]
domain = wac.local
bind = 127.0.0.1
ws_port = 0
sip_port = 0
admin_port = 0
log_level = ${process.env.WAC_TEST_LOG ?? 'silent'}
${opts.ini ?? ''}
[store]
dir = ${dir}
`);
  const store = await EmbeddedStore.open(dir);
  const users = new Users(store);
  const signaling = await startSignaling(config, store, createLogger(config.server.log_level));
  const domain = config.server.domain;
  return {
    domain, signaling,
    wsUrl: `ws://127.0.0.1:${signaling.wsPort}`,
    wsPort: signaling.wsPort,
    sipPort: signaling.sipPort,
    async addUser(username, password) {
      await users.create({ domain, username, password });
    },
    async bindings(username) {
      return signaling.location.count(`${username}@${domain}`);
    },
    async close() {
      await signaling.close();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
