import {
  Kafka, PartitionAssigners, Partitioners, logLevel,
  type Admin, type ITopicConfig, type Producer,
} from 'kafkajs';
import type { Logger } from '../../actors/ports/logger.js';
import type {
  ConsumerOptions, LogConsumer, OutgoingRecord, PartitionedLog, TopicSpec,
} from '../../actors/ports/partitioned-log.js';
import { consistentHashAssigner } from './consistent-hash-assigner.js';
import { kafkaCompressionTypes, registerKafkaCodecs, type KafkaCompression } from './kafka-codecs.js';
import { KafkaLogConsumer } from './kafka-log-consumer.js';
import { ProduceAccumulator } from './produce-accumulator.js';
import { partitionForKey } from '../embedded/murmur2.js';
import { pinoLogCreator } from './kafka-logging.js';

/**
 * Records per partition of a topic in one produce request. kafkajs 2.2.4 groups a send's messages
 * by partition by copying the partition's list for every message (groupMessagesPerPartition:
 * quadratic in the records per partition): the first checkpoint after a 100k-vehicle load, 100k
 * vehicle.updates records in 2 partitions, held a node's event loop for a minute and more (150 s
 * measured for the grouping alone on a loaded machine). 500 per partition: 1.5–6 ms per send.
 */
const PUBLISH_CHUNK_PER_PARTITION = 500;

export { KafkaLogConsumer, reportsLag } from './kafka-log-consumer.js';
export type { KafkaCompression } from './kafka-codecs.js';

export interface KafkaLogOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** pino logger (any logger with pino's object-first signature). kafkajs logs land here at warn+. */
  readonly log: Logger;
  /** Group session timeout (kafkajs default 30000). Broker minimum: group.min.session.timeout.ms (6000). */
  readonly sessionTimeoutMs?: number;
  /**
   * Minimum gap between heartbeats (kafkajs default 3000; here 500). Also how soon a member
   * learns that the group rebalances: kafkajs finds out only from a heartbeat's answer.
   */
  readonly heartbeatIntervalMs?: number;
  /** How long the coordinator waits for every member to re-join in a rebalance (kafkajs default 60000). */
  readonly rebalanceTimeoutMs?: number;
  /** Replication factor of topics created by ensureTopics; -1 (default) means the broker's default. */
  readonly replicationFactor?: number;
  /** How long a fetch waits for data when there is none (default 500 ms); bounds resume/stop latency. */
  readonly maxWaitTimeMs?: number;
  /** Codec of produced batches (default gzip: every Kafka client reads it). Consumers read every codec. */
  readonly compression?: KafkaCompression;
  /** First delay before a crashed consumer is started again (default 1000 ms); doubles up to 30 s. */
  readonly restartBackoffMs?: number;
}

/** Kafka topic configs of a spec: compaction, and retention where the spec bounds it. */
function topicConfig(s: TopicSpec): { name: string; value: string }[] {
  const entries: { name: string; value: string }[] = [];
  if (s.compacted) entries.push({ name: 'cleanup.policy', value: 'compact' });
  if (s.retention?.ms !== undefined) entries.push({ name: 'retention.ms', value: String(s.retention.ms) });
  if (s.retention?.bytes !== undefined) entries.push({ name: 'retention.bytes', value: String(s.retention.bytes) });
  return entries;
}

const toBuffer = (v: Uint8Array): Buffer =>
  Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/**
 * PartitionedLog on a real Apache Kafka cluster, through kafkajs 2.2: topics (admin), the
 * producer, and a KafkaLogConsumer per consume(). What the engine must know about kafkajs's
 * consumer group (heartbeats, eager rebalances, commits) is written at KafkaLogConsumer.
 */
export class KafkaLog implements PartitionedLog {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private readonly partitionCounts = new Map<string, number>();
  private readonly consumers = new Set<KafkaLogConsumer>();
  private adminReady: Promise<Admin> | undefined;
  private producerReady: Promise<Producer> | undefined;
  private readonly accumulator: ProduceAccumulator;
  private closed = false;

  constructor(private readonly options: KafkaLogOptions) {
    registerKafkaCodecs();
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: [...options.brokers],
      logLevel: logLevel.WARN,
      logCreator: pinoLogCreator(options.log),
    });
    const compression = kafkaCompressionTypes[options.compression ?? 'gzip'];
    this.accumulator = new ProduceAccumulator(
      async (topicMessages) => { await (await this.producer()).sendBatch({ topicMessages, acks: -1, compression }); },
      PUBLISH_CHUNK_PER_PARTITION,
    );
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    if (specs.length === 0) return;
    const admin = await this.admin();
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.name));
    if (missing.length > 0) {
      const topics: ITopicConfig[] = missing.map((s) => ({
        topic: s.name,
        numPartitions: s.partitions,
        replicationFactor: this.options.replicationFactor ?? -1,
        configEntries: topicConfig(s),
      }));
      // waitForLeaders: resolves once every new partition has a leader. A concurrent creator
      // (another node) makes kafkajs return false (TOPIC_ALREADY_EXISTS), which is fine.
      await admin.createTopics({ topics, waitForLeaders: true, timeout: 30_000 });
      this.options.log.info({ topics: missing.map((s) => `${s.name}/${s.partitions}${s.compacted ? '/compact' : ''}`) }, 'kafka topics created');
    }
    await this.refreshPartitions(admin, specs.map((s) => s.name));
    for (const s of specs) {
      const actual = this.partitionCounts.get(s.name);
      if (actual !== s.partitions) {
        this.options.log.warn({ topic: s.name, wanted: s.partitions, actual }, 'kafka topic exists with a different partition count; using the actual one');
      }
    }
  }

  partitionsOf(topic: string): number {
    const n = this.partitionCounts.get(topic);
    if (n === undefined) throw new Error(`kafka log: unknown topic ${topic} (ensureTopics first)`);
    return n;
  }

  /**
   * acks=-1, in the configured codec. Publishes made while a produce request is in flight leave
   * together in the next one, every topic in one request (ProduceAccumulator), in requests of at
   * most PUBLISH_CHUNK_PER_PARTITION records per partition of a topic, one request at a time
   * (their order holds). Resolves only once the broker acknowledged every record; rejects
   * otherwise (after kafkajs's retries), in which case any subset may have been stored.
   */
  async publish(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    if (!this.partitionCounts.has(topic)) await this.refreshPartitions(await this.admin(), [topic]);
    const partitions = this.partitionsOf(topic);
    // murmur2 of the key, as kafkajs's default partitioner would (without its Buffer per key):
    // the accumulator counts each request's records per partition.
    await this.accumulator.publish(topic, records.map((r) => ({
      key: r.key, value: r.value === null ? null : toBuffer(r.value), partition: r.partition ?? partitionForKey(r.key, partitions),
    })));
  }

  async consume(options: ConsumerOptions): Promise<LogConsumer> {
    if (this.closed) throw new Error('kafka log: closed');
    let owned: () => readonly number[] = () => [];
    const member = options.member;
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      // Round robin second: a group of nodes that all speak the consistent hash picks it; during a
      // rolling upgrade from nodes that only knew round robin, the group keeps round robin
      // instead of refusing the new members.
      ...(member ? { partitionAssigners: [consistentHashAssigner({ nodeId: member.nodeId, weight: () => member.weight(), owned: () => owned(), ...(member.url ? { url: member.url } : {}) }, this.options.log), PartitionAssigners.roundRobin] } : {}),
      sessionTimeout: this.options.sessionTimeoutMs ?? 30_000,
      rebalanceTimeout: this.options.rebalanceTimeoutMs ?? 60_000,
      heartbeatInterval: this.options.heartbeatIntervalMs ?? 500,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: this.options.maxWaitTimeMs ?? 500,
      // kafkajs restarts a crashed consumer only for some errors (a batch it cannot decode
      // stops it for good); KafkaLogConsumer restarts it after every crash instead.
      retry: { retries: 5, restartOnFailure: async () => false },
    });
    const c = new KafkaLogConsumer(consumer, options, this.options.log, this.options.heartbeatIntervalMs ?? 500, () => this.consumers.delete(c), this.options.restartBackoffMs ?? 1_000);
    owned = () => c.claims();
    this.consumers.add(c);
    try {
      await c.start();
    } catch (e) {
      this.consumers.delete(c);
      await consumer.disconnect().catch(() => undefined);
      throw e;
    }
    return c;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of [...this.consumers]) await c.stop();
    await this.accumulator.drained();
    const producer = this.producerReady;
    const admin = this.adminReady;
    this.producerReady = undefined;
    this.adminReady = undefined;
    if (producer) await (await producer.catch(() => undefined))?.disconnect();
    if (admin) await (await admin.catch(() => undefined))?.disconnect();
  }

  private async refreshPartitions(admin: Admin, topics: readonly string[]): Promise<void> {
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...topics] });
    for (const t of metadata) this.partitionCounts.set(t.name, t.partitions.length);
  }

  private admin(): Promise<Admin> {
    if (!this.adminReady) {
      const admin = this.kafka.admin();
      this.adminReady = admin.connect().then(() => admin);
      this.adminReady.catch(() => { this.adminReady = undefined; });
    }
    return this.adminReady;
  }

  private producer(): Promise<Producer> {
    if (this.closed) return Promise.reject(new Error('kafka log: closed'));
    if (!this.producerReady) {
      const producer = this.kafka.producer({
        // v2's default is the Java client's murmur2 partitioner; naming it silences the
        // "switched default partitioner" warning. Same as adapters/embedded/murmur2.ts.
        createPartitioner: Partitioners.DefaultPartitioner,
        idempotent: false,
        allowAutoTopicCreation: false,
        // One request in flight per broker: a retried request cannot overtake a later one,
        // so records of a key stay in publish order (the Java client needs
        // max.in.flight.requests.per.connection=1 for the same guarantee without idempotence).
        maxInFlightRequests: 1,
      });
      this.producerReady = producer.connect().then(() => producer);
      this.producerReady.catch(() => { this.producerReady = undefined; });
    }
    return this.producerReady;
  }
}
