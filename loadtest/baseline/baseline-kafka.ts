import { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { registerKafkaCodecs } from '../../adapters/kafka/kafka-codecs.js';
import { pinoLogCreator } from '../../adapters/kafka/kafka-logging.js';
import type { BaselineConfig } from './config.js';
import { createTopicsWithLeaders } from '../../adapters/kafka/topic-creation.js';

/** The two topics of the pipeline, under the configured prefix. */
export function baselineTopics(config: BaselineConfig): { readonly raw: string; readonly updates: string } {
  return { raw: `${config.topicPrefix}telemetry.raw`, updates: `${config.topicPrefix}vehicle.updates` };
}

export function createKafka(config: BaselineConfig, clientId: string, log: Logger): Kafka {
  registerKafkaCodecs();
  return new Kafka({ clientId, brokers: [...config.kafkaBrokers], logCreator: pinoLogCreator(log) });
}

/** Creates the topics that do not exist yet, with TELEMETRY_PARTITIONS partitions each. */
export async function ensureTopics(kafka: Kafka, topics: readonly string[], partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      await createTopicsWithLeaders(admin, missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })));
    }
  } finally {
    await admin.disconnect();
  }
}
