import { pino, type Logger } from 'pino';
import type { KafkaCompression } from '../../adapters/kafka/kafka-codecs.js';

/**
 * Configuration of the baseline pipeline's two services, from environment variables (the same
 * names Fleetline uses where they mean the same thing). README.md in this folder lists them.
 */
export interface BaselineConfig {
  readonly kafkaBrokers: readonly string[];
  /** Prepended to every topic name, so a baseline run has topics of its own. */
  readonly topicPrefix: string;
  readonly redisUrl: string;
  /** Prepended to every Redis key. */
  readonly redisPrefix: string;
  /** Reference data seeded into Redis by the processor at start; null: Redis already holds it. */
  readonly fleetFile: string | null;
  readonly partitions: number;
  readonly kafkaCompression: KafkaCompression;
  /** Batches of telemetry.raw the processor works on at once (kafkajs partitionsConsumedConcurrently). */
  readonly processorConcurrency: number;
  readonly host: string;
  /** The fanout's HTTP + WebSocket port (0: a free one). */
  readonly port: number;
  /** The processor's /metrics port; null: none. */
  readonly processorPort: number | null;
  readonly jwtSecret: string;
  readonly wsFlushMs: number;
  readonly wsMaxBufferedBytes: number;
  readonly snapshotLimit: number;
  /** km/h; a vehicle at or above it is moving (as Fleetline's view documents). */
  readonly movingSpeedKmh: number;
  /** Overspeed limit of vehicles whose reference data names none; 0: none. */
  readonly speedLimitKmh: number;
  readonly logLevel: string;
}

export class BaselineConfigError extends Error {
  readonly code = 'BAD_CONFIG';
}

type Env = Readonly<Record<string, string | undefined>>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new BaselineConfigError(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  return v;
}

const COMPRESSIONS: readonly KafkaCompression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export function loadBaselineConfig(env: Env = process.env): BaselineConfig {
  const secret = env.JWT_SECRET;
  if (secret === undefined || secret.length < 16) throw new BaselineConfigError('JWT_SECRET must be set (at least 16 characters): the fanout verifies client tokens with it');
  const compression = (env.KAFKA_COMPRESSION ?? 'gzip') as KafkaCompression;
  if (!COMPRESSIONS.includes(compression)) throw new BaselineConfigError(`KAFKA_COMPRESSION must be one of ${COMPRESSIONS.join(', ')}`);
  const processorPort = env.PROCESSOR_PORT;
  return {
    kafkaBrokers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim()).filter((b) => b.length > 0),
    topicPrefix: env.KAFKA_TOPIC_PREFIX ?? 'baseline.',
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    redisPrefix: env.REDIS_PREFIX ?? 'baseline:',
    fleetFile: env.FLEET_FILE || null,
    partitions: int(env, 'TELEMETRY_PARTITIONS', 24, 1, 10_000),
    kafkaCompression: compression,
    processorConcurrency: int(env, 'PROCESSOR_CONCURRENCY', 4, 1, 256),
    host: env.HOST ?? '0.0.0.0',
    port: int(env, 'PORT', 8090, 0, 65_535),
    processorPort: processorPort === undefined || processorPort === '' || processorPort === 'off' ? null : int(env, 'PROCESSOR_PORT', 0, 0, 65_535),
    jwtSecret: secret,
    wsFlushMs: int(env, 'WS_FLUSH_MS', 30, 1, 10_000),
    wsMaxBufferedBytes: int(env, 'WS_MAX_BUFFERED_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    snapshotLimit: int(env, 'SNAPSHOT_LIMIT', 100_000, 1, 10_000_000),
    movingSpeedKmh: int(env, 'MOVING_SPEED_KMH', 3, 0, 100),
    speedLimitKmh: int(env, 'SPEED_LIMIT_KMH', 0, 0, 1000),
    logLevel: env.LOG_LEVEL ?? 'info',
  };
}

/**
 * Runs a baseline service as a process of its own: starts it with the environment's config and
 * stops it on SIGINT/SIGTERM (exit 0, or 1 when stopping failed).
 */
export async function runAsProcess(start: (config: BaselineConfig, log: Logger) => Promise<{ stop(): Promise<void> }>): Promise<void> {
  const config = loadBaselineConfig();
  const log = pino({ level: config.logLevel });
  const handle = await start(config, log);
  const shutdown = (): void => {
    handle.stop().then(() => process.exit(0), (e: Error) => {
      log.error({ err: e.message }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
