/** The whole server: store, signaling core and admin API, which meet only through shared/. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { bootstrapAdmin, createAdminApp } from './admin-api/app';
import { TokenService } from './shared/auth/jwt';
import type { Config } from './shared/config';
import { openLive } from './shared/live';
import type { Logger } from './shared/log';
import { openStore, Store } from './shared/store';
import { SignalingServer, startSignaling } from './signaling/server';

export interface Wac {
  store: Store;
  signaling: SignalingServer;
  tokens: TokenService;
  adminPort: number;
  close(): Promise<void>;
}

export async function startWac(config: Config, log: Logger, store?: Store): Promise<Wac> {
  const st = store ?? (await openStore(config));
  const tokens = await TokenService.open(st, config.auth.jwt_secret, config.auth.token_expires, config.auth.refresh_expires);
  await bootstrapAdmin(config, st, log);
  // One object in this process for both sides; with Redis, every node's.
  const live = await openLive(config, log);
  const signaling = await startSignaling(config, st, live, log, tokens);
  const { app } = createAdminApp({ config, store: st, live, log, tokens, wsPort: signaling.wsPort });
  const admin = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    admin.once('error', reject);
    admin.listen(config.server.admin_port, config.server.bind, () => resolve());
  });
  const adminPort = (admin.address() as AddressInfo).port;
  log.info({ adminPort }, 'admin API listening');
  return {
    store: st, signaling, tokens, adminPort,
    async close() {
      admin.closeAllConnections();
      await new Promise<void>((r) => admin.close(() => r()));
      await signaling.close();
      await live.close();
      await st.close();
    },
  };
}
