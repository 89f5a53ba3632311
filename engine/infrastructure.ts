import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { PartitionedLog } from '../actors/ports/partitioned-log.js';
import type { SnapshotStore } from '../actors/ports/snapshot-store.js';
import type { HistoryStore } from '../actors/ports/history-store.js';
import type { HistoryReader } from '../actors/ports/history-reader.js';
import type { CurrentStateStore } from '../actors/ports/current-state-store.js';
import type { ReferenceSource } from '../actors/ports/reference-source.js';
import { TieredSnapshotStore } from '../actors/tiered-snapshot-store.js';
import { EmbeddedLog } from '../adapters/embedded/embedded-log.js';
import { FileReferenceSource } from '../adapters/embedded/file-reference-source.js';
import { MemoryHistoryStore } from '../adapters/embedded/memory-history-store.js';
import { MemorySnapshotStore } from '../adapters/embedded/memory-snapshot-store.js';
import { KafkaLog } from '../adapters/kafka/kafka-log.js';
import { NamespacedLog } from '../adapters/kafka/namespaced-log.js';
import { closeRedis, connectRedis } from '../adapters/redis/redis-connection.js';
import { RedisCurrentStateStore } from '../adapters/redis/redis-current-state.js';
import { RedisSnapshotStore } from '../adapters/redis/redis-snapshot-store.js';
import { createPgPool } from '../adapters/postgres/pg-pool.js';
import { migrate } from '../adapters/postgres/migrate.js';
import { PgHistoryStore } from '../adapters/postgres/pg-history-store.js';
import { PgHistoryReader } from '../adapters/postgres/pg-history-reader.js';
import { PgReferenceSource } from '../adapters/postgres/pg-reference-source.js';
import { PgSnapshotStore } from '../adapters/postgres/pg-snapshot-store.js';
import { dropExpiredPartitions } from '../adapters/postgres/position-partitions.js';
import type { Config } from './config.js';

/** The bus and stores a node runs on: each one embedded unless its variable names a server. */
export interface Infrastructure {
  readonly bus: PartitionedLog;
  readonly snapshots: SnapshotStore;
  /** The tier never behind the others, read without side effects (a replica's first fill). */
  readonly durableSnapshots: SnapshotStore;
  readonly history: HistoryStore;
  /** Track, events and reports; null in the embedded mode, which keeps no history. */
  readonly historyReader: HistoryReader | null;
  readonly currentState: CurrentStateStore | null;
  readonly reference: ReferenceSource;
  readonly redis: Redis | null;
  readonly pool: pg.Pool | null;
  close(): Promise<void>;
}

const RETENTION_CHECK_MS = 3_600_000;

export async function createInfrastructure(config: Config, log: Logger): Promise<Infrastructure> {
  const kafka = config.kafkaBrokers
    ? new KafkaLog({
      brokers: config.kafkaBrokers.split(',').map((b) => b.trim()), clientId: `fleetline-${config.nodeId}`, log, compression: config.kafkaCompression,
      heartbeatIntervalMs: config.kafkaHeartbeatIntervalMs, sessionTimeoutMs: config.kafkaSessionTimeoutMs, rebalanceTimeoutMs: config.kafkaRebalanceTimeoutMs,
    })
    : null;
  const bus: PartitionedLog = kafka === null ? new EmbeddedLog({ maxBatch: config.embeddedMaxBatch, retainRecords: 1000 }) : config.kafkaTopicPrefix ? new NamespacedLog(kafka, config.kafkaTopicPrefix) : kafka;

  const redis = config.redisUrl ? await connectRedis({ url: config.redisUrl, name: `fleetline-${config.nodeId}`, logger: log }) : null;
  let pool: pg.Pool | null = null;
  let readPool: pg.Pool | null = null;
  if (config.databaseUrl) {
    pool = createPgPool({ connectionString: config.databaseUrl, applicationName: `fleetline-${config.nodeId}`, logger: log });
    // History reads get connections of their own: a long report never holds up a checkpoint's writes.
    readPool = createPgPool({ connectionString: config.databaseUrl, applicationName: `fleetline-${config.nodeId}-reads`, logger: log, max: config.historyReadConnections });
    const result = await migrate(pool, { logger: log });
    log.info({ applied: result.applied, schema: result.current }, 'postgres migrations');
  }

  const hot = redis ? new RedisSnapshotStore(redis, { prefix: config.redisPrefix, format: config.snapshotFormat }) : null;
  const durable = pool ? new PgSnapshotStore(pool, { format: config.snapshotFormat }) : null;
  const snapshots: SnapshotStore = hot && durable
    ? new TieredSnapshotStore(hot, durable, {
        onHotFailure: (err, operation, partition) => log.warn({ err: err.message, operation, partition }, 'redis snapshot tier failed; postgres carried it'),
      })
    : hot ?? durable ?? new MemorySnapshotStore();
  // Without PostgreSQL, positions are kept only as long as a crashed actor may need to replay them.
  const history: HistoryStore = pool ? new PgHistoryStore(pool, { retentionDays: config.historyRetentionDays }) : new MemoryHistoryStore({ retainMs: Math.max(60_000, 2 * config.snapshotIntervalMs), maxRows: config.memoryHistoryMaxRows });
  const currentState = redis ? new RedisCurrentStateStore(redis, { prefix: config.redisPrefix }) : null;
  if (pool && config.fleetFile) log.warn({ fleetFile: config.fleetFile }, 'DATABASE_URL is set: reference data comes from PostgreSQL, FLEET_FILE is ignored');
  const reference: ReferenceSource = pool ? new PgReferenceSource(pool, { logger: log }) : new FileReferenceSource(config.fleetFile);

  let retention: NodeJS.Timeout | null = null;
  if (pool) {
    const p = pool;
    const sweep = () => {
      dropExpiredPartitions(p, config.historyRetentionDays)
        .then((dropped) => { if (dropped.length > 0) log.info({ dropped }, 'expired position partitions dropped'); })
        .catch((e: Error) => log.warn({ err: e.message }, 'retention sweep failed; next in an hour'));
    };
    sweep();
    retention = setInterval(sweep, RETENTION_CHECK_MS);
    retention.unref();
  }

  return {
    bus, snapshots, durableSnapshots: durable ?? hot ?? snapshots, history, currentState, reference, redis, pool,
    historyReader: readPool ? new PgHistoryReader(readPool, { trackSlices: Math.min(4, config.historyReadConnections) }) : null,
    close: async () => {
      if (retention) clearInterval(retention);
      await bus.close();
      await snapshots.close();
      await history.close();
      await currentState?.close();
      if (redis) await closeRedis(redis);
      if (pool) await pool.end();
      if (readPool) await readPool.end();
    },
  };
}
