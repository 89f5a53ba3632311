import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { Partitioners, type Consumer, type Producer } from 'kafkajs';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import type { Redis } from 'ioredis';
import { closeRedis, connectRedis } from '../../adapters/redis/redis-connection.js';
import { kafkaCompressionTypes } from '../../adapters/kafka/kafka-codecs.js';
import { parseFleet } from '../../adapters/embedded/file-reference-source.js';
import { runAsProcess, type BaselineConfig } from './config.js';
import { baselineTopics, createKafka, ensureTopics } from './baseline-kafka.js';
import { HotStateKeys, seedReference } from './hot-state.js';
import { processPointBatch } from './point-batch.js';
import { serveMetrics } from './metrics-endpoint.js';

export interface ProcessorStats {
  /** Valid points read from telemetry.raw. */
  points: number;
  /** Updates acknowledged by Kafka on vehicle.updates. */
  published: number;
  rejected: number;
}

export interface ProcessorHandle {
  /** http://host:port of /metrics, when PROCESSOR_PORT is set. */
  readonly metricsUrl: string | null;
  readonly stats: Readonly<ProcessorStats>;
  stop(): Promise<void>;
}

/**
 * The baseline's processing service: a stateless consumer of telemetry.raw that, per batch,
 * reads reference data and previous states from Redis, derives, writes states back and
 * publishes one update per point to vehicle.updates; offsets are committed after both.
 */
export async function startProcessor(config: BaselineConfig, log: Logger = pino({ level: config.logLevel })): Promise<ProcessorHandle> {
  const topics = baselineTopics(config);
  const keys = new HotStateKeys(config.redisPrefix);
  const kafka = createKafka(config, 'baseline-processor', log);
  await ensureTopics(kafka, [topics.raw, topics.updates], config.partitions);
  const redis: Redis = await connectRedis({ url: config.redisUrl, name: 'baseline-processor', logger: log });
  if (config.fleetFile !== null) {
    const devices = await seedReference(redis, keys, parseFleet(await readFile(config.fleetFile, 'utf8'), config.fleetFile));
    log.info({ devices, prefix: config.redisPrefix }, 'reference data seeded into redis');
  }

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const pointsTotal = new Counter({ name: 'baseline_points_total', help: 'Valid points read from telemetry.raw', registers: [registry] });
  const publishedTotal = new Counter({ name: 'baseline_updates_published_total', help: 'Updates acknowledged on vehicle.updates', registers: [registry] });
  const rejectedTotal = new Counter({ name: 'baseline_points_rejected_total', help: 'Points dropped, by reason', labelNames: ['reason'], registers: [registry] });
  const stats: ProcessorStats = { points: 0, published: 0, rejected: 0 };

  const producer: Producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  const consumer: Consumer = kafka.consumer({ groupId: `${config.topicPrefix}baseline-processor` });
  await consumer.connect();
  await consumer.subscribe({ topic: topics.raw, fromBeginning: true });
  const compression = kafkaCompressionTypes[config.kafkaCompression];
  const settings = { movingSpeedKmh: config.movingSpeedKmh, speedLimitKmh: config.speedLimitKmh };

  await consumer.run({
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: config.processorConcurrency,
    eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
      if (!isRunning() || isStale() || batch.messages.length === 0) return;
      const out = await processPointBatch(redis, keys, settings, batch.messages.map((m) => m.value));
      const publish = out.updates.length > 0
        ? producer.send({ topic: topics.updates, acks: -1, compression, messages: out.updates })
        : Promise.resolve();
      await Promise.all([out.stateWrite, publish]);
      stats.points += out.points;
      stats.published += out.updates.length;
      pointsTotal.inc(out.points);
      publishedTotal.inc(out.updates.length);
      for (const [reason, n] of out.rejected) {
        stats.rejected += n;
        rejectedTotal.inc({ reason }, n);
      }
      resolveOffset(batch.messages[batch.messages.length - 1].offset);
      await commitOffsetsIfNecessary();
      await heartbeat();
    },
  });

  const metrics = config.processorPort === null ? null : await serveMetrics(registry, config.host, config.processorPort);
  log.info({ topic: topics.raw, metrics: metrics?.url }, 'baseline processor running');
  return {
    metricsUrl: metrics?.url ?? null,
    stats,
    async stop() {
      await consumer.disconnect();
      await producer.disconnect();
      await closeRedis(redis);
      await metrics?.close();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAsProcess(startProcessor);
