import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { closeRedis, connectRedis } from '../../adapters/redis/redis-connection.js';

export const TEST_REDIS_URL = process.env.FLEETLINE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestRedis {
  readonly redis: Redis;
  /** test:<random>: — every key a test writes lives under it. */
  readonly prefix: string;
  /** Keys under the prefix (SCAN). */
  keys(): Promise<string[]>;
  /** Deletes every key under the prefix (SCAN + UNLINK). */
  empty(): Promise<number>;
  /** empty() and disconnect. */
  cleanup(): Promise<void>;
}

export async function createTestRedis(): Promise<TestRedis> {
  const prefix = `test:${randomBytes(6).toString('hex')}:`;
  let redis: Redis;
  try {
    redis = await connectRedis({ url: TEST_REDIS_URL, name: 'fleetline-test' });
  } catch (e) {
    throw new Error(`${(e as Error).message}; start it with scripts/services.sh up`);
  }
  const keys = async (): Promise<string[]> => {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      out.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return [...new Set(out)];
  };
  const empty = async (): Promise<number> => {
    const all = await keys();
    for (let i = 0; i < all.length; i += 500) await redis.unlink(...all.slice(i, i + 500));
    return all.length;
  };
  return {
    redis,
    prefix,
    keys,
    empty,
    async cleanup() {
      try {
        await empty();
      } finally {
        await closeRedis(redis);
      }
    },
  };
}
