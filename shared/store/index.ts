import type { Config } from '../config';
import { EmbeddedStore } from './embedded';
import type { Store } from './store';

export type { Store, WriteGuard, WriteOp } from './store';
export { WrongTypeError } from './store';
export { EmbeddedStore } from './embedded';

export async function openStore(config: Config): Promise<Store> {
  switch (config.store.backend) {
    case 'memory':
      return EmbeddedStore.open(config.store.dir);
    case 'redis':
      throw new Error('store.backend = redis is not yet supported; use memory');
  }
}
