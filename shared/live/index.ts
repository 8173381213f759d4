import type { Config } from '../config';
import type { Logger } from '../log';
import type { LiveState } from './live';
import { MemoryLiveState } from './memory';
import { RedisLiveState } from './redis';

export type { LiveCall, LiveChanges, LiveDevice, LiveRegistration, LiveState } from './live';
export { RedisLiveState } from './redis';

/** The live view for `[store] backend`: in this process, or shared by every node through Redis. */
export async function openLive(config: Config, log: Logger): Promise<LiveState> {
  switch (config.store.backend) {
    case 'memory':
      return new MemoryLiveState();
    case 'redis':
      return RedisLiveState.open(config.store.redis_url, log);
  }
}
