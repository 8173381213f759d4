/** Process entry: config and logger, then the server; stops cleanly on SIGINT/SIGTERM. */
import { loadConfig } from './shared/config';
import { createLogger } from './shared/log';
import { startWac } from './wac';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.server.log_level);
  const wac = await startWac(config, log);
  const stop = async (signal: string) => {
    log.info({ signal }, 'stopping');
    await wac.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: Error) => {
  process.stderr.write(`wac-ts: ${err.message}\n`);
  process.exit(1);
});
