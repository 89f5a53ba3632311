import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../../actors/ports/logger.js';

export interface RedisConnectionOptions {
  /** redis://[user:pass@]host:port[/db]; default redis://127.0.0.1:6379 */
  readonly url?: string;
  /** CLIENT SETNAME, shows up in CLIENT LIST. */
  readonly name?: string;
  /** Retries of one command across reconnects before it rejects (default 1). */
  readonly maxRetriesPerRequest?: number;
  /** Rejects a command that got no answer in this many ms (default 15000). */
  readonly commandTimeoutMs?: number;
  /** TCP connect timeout in ms (default 3000). */
  readonly connectTimeoutMs?: number;
  /** Upper bound of the reconnect backoff in ms (default 5000). */
  readonly maxReconnectDelayMs?: number;
  readonly logger?: Logger;
}

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** Exponential reconnect backoff with jitter: 100 ms, 200 ms, ... up to `max` (never gives up). */
export function reconnectDelay(attempt: number, max = 5000): number {
  const base = Math.min(max, 100 * 2 ** Math.min(attempt - 1, 10));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/**
 * An ioredis client that fails fast: `lazyConnect` (nothing happens until connect()),
 * `enableOfflineQueue: false` (a command issued while disconnected rejects at once instead of
 * waiting in memory) and a small `maxRetriesPerRequest`. The engine calls Redis only at
 * checkpoints and retries them with its own backoff, so a Redis outage must surface as a
 * rejection, never as a blocked hot path. The client itself keeps reconnecting with backoff.
 */
export function createRedis(options: RedisConnectionOptions = {}): Redis {
  const maxDelay = options.maxReconnectDelayMs ?? 5000;
  const redisOptions: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 1,
    commandTimeout: options.commandTimeoutMs ?? 15_000,
    connectTimeout: options.connectTimeoutMs ?? 3000,
    enableReadyCheck: true,
    autoResubscribe: false,
    retryStrategy: (attempt: number) => reconnectDelay(attempt, maxDelay),
  };
  if (options.name !== undefined) redisOptions.connectionName = options.name;
  const redis = new Redis(options.url ?? DEFAULT_REDIS_URL, redisOptions);
  // Without a listener ioredis prints every connection error; route them to the logger instead.
  let lastError = '';
  redis.on('error', (err: Error) => {
    if (err.message === lastError) return; // one line per distinct error, not one per retry
    lastError = err.message;
    options.logger?.warn({ err: err.message, redis: redactUrl(options.url ?? DEFAULT_REDIS_URL) }, 'redis connection error');
  });
  redis.on('ready', () => {
    if (lastError !== '') options.logger?.info({ redis: redactUrl(options.url ?? DEFAULT_REDIS_URL) }, 'redis connection restored');
    lastError = '';
  });
  return redis;
}

/**
 * Creates a client and connects it; rejects (and stops reconnecting) when Redis does not
 * answer, so a node configured for Redis refuses to start instead of running blind.
 */
export async function connectRedis(options: RedisConnectionOptions = {}): Promise<Redis> {
  const redis = createRedis(options);
  try {
    await redis.connect();
    return redis;
  } catch (e) {
    redis.disconnect();
    throw new Error(`redis not reachable at ${redactUrl(options.url ?? DEFAULT_REDIS_URL)}: ${(e as Error).message}`);
  }
}

/** QUIT when connected (flushes pending replies), plain disconnect otherwise. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      // fall through
    }
  }
  redis.disconnect();
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** Runs a pipeline; throws its first command error. Resolves with every command's reply. */
export async function execChecked(pipeline: ReturnType<Redis['pipeline']>, what: string): Promise<unknown[]> {
  const results = await pipeline.exec();
  if (results === null) throw new Error(`redis ${what}: pipeline aborted`);
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
