import type { Config } from '../config';
import { EmbeddedStore } from './embedded';
import { RedisStore } from './redis';
import type { Store } from './store';

export type { Store, WriteGuard, WriteOp } from './store';
export { WrongTypeError } from './store';
export { EmbeddedStore } from './embedded';
export { RedisStore } from './redis';

export async function openStore(config: Config): Promise<Store> {
  switch (config.store.backend) {
    case 'memory':
      return EmbeddedStore.open(config.store.dir);
    case 'redis':
      return RedisStore.open(config.store.redis_url);
  }
}
