/** Process entry: config, logger, store, then the signaling core. */
import { loadConfig } from './shared/config';
import { createLogger } from './shared/log';
import { openStore } from './shared/store';
import { startSignaling } from './signaling/server';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.server.log_level);
  const store = await openStore(config);
  const signaling = await startSignaling(config, store, log);
  const stop = async (signal: string) => {
    log.info({ signal }, 'stopping');
    await signaling.close();
    await store.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: Error) => {
  process.stderr.write(`wac-ts: ${err.message}\n`);
  process.exit(1);
});
