import pg from 'pg';
import { closeRedis, connectRedis } from '../adapters/redis/redis-connection.js';

/**
 * Throw-away databases and Redis key prefixes for the benchmarks, on the shared servers
 * (a benchmark never touches a deployment's own data).
 */
export const BENCH_REDIS_URL = process.env.FLEETLINE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const BENCH_PG_ADMIN_URL = process.env.FLEETLINE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Creates database `name`; resolves with its connection URL. */
export async function createBenchDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: BENCH_PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(BENCH_PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropBenchDatabase(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: BENCH_PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Deletes every key under `prefix` (on the benches' Redis unless `url` names another). */
export async function removeRedisPrefix(prefix: string, url = BENCH_REDIS_URL): Promise<void> {
  const redis = await connectRedis({ url, name: 'fleetline-bench-cleanup', commandTimeoutMs: 120_000 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await closeRedis(redis);
  }
}
