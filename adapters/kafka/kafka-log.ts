import {
  Kafka, PartitionAssigners, Partitioners, logLevel,
  type Admin, type ITopicConfig, type Producer, type RecordMetadata, type TopicMessages,
} from 'kafkajs';
import type { Logger } from '../../actors/ports/logger.js';
import {
  Topics, type ConsumerOptions, type LogConsumer, type OutgoingRecord, type PartitionedLog, type TopicSpec,
} from '../../actors/ports/partitioned-log.js';
import { consistentHashAssigner } from './consistent-hash-assigner.js';
import { kafkaCompressionTypes, registerKafkaCodecs, type KafkaCompression } from './kafka-codecs.js';
import { KafkaLogConsumer } from './kafka-log-consumer.js';
import { createTopicsWithLeaders } from './topic-creation.js';
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

/**
 * Records of one produce request, every topic and partition together. A request of a checkpoint
 * round could hold 24 partitions × 2 topics × 500 = 24,000 records; whatever else shares its
 * accumulator waits for all of it. Measured (docs/performance.md, *Produce requests*), gzip,
 * 161 B records over 24 partitions, loaded 2-core machine: 4,000 records 57–69 ms from send to
 * ack and at most 3–7 ms of event-loop delay, 24,000 records 348–664 ms and 20–28 ms.
 */
const PUBLISH_RECORDS_PER_REQUEST = 4_000;

/**
 * The classes of traffic that get produce requests of their own, so that one class neither
 * waits behind nor fails with the other's requests: the checkpoints' outputs (large requests
 * every few seconds) and everything else (intake, forwarded points, live changes, reference
 * changes: small, and a caller waits for each).
 */
type Lane = 'outputs' | 'intake';

const outputTopics = [Topics.vehicleUpdates, Topics.vehicleEvents] as const;

/** The lane of a topic, under any prefix (NamespacedLog). */
const laneOf = (topic: string): Lane => (outputTopics.some((t) => topic.endsWith(t)) ? 'outputs' : 'intake');

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
  /**
   * How old the producer's metadata, and the partition counts keyed records are routed by, may
   * get (default 300000 ms, kafkajs's metadataMaxAge). Partitions added to a topic get keys once
   * both know them: at most twice this after they were added.
   */
  readonly partitionRefreshMs?: number;
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
 * Throws unless the brokers answered for every topic-partition of a request: kafkajs 2.2.4 leaves
 * out, without an error, the messages of a partition its metadata does not know (an explicit
 * partition beyond the count it read), and would resolve a publish that stored nothing of them.
 */
function throwIfUnacknowledged(sent: readonly TopicMessages[], acked: readonly RecordMetadata[]): void {
  for (const { topic, messages } of sent) {
    const answered = new Set(acked.filter((r) => r.topicName === topic).map((r) => r.partition));
    for (const m of messages) {
      if (m.partition !== undefined && !answered.has(m.partition)) throw new KafkaPartitionUnknown(topic, m.partition);
    }
  }
}

/** A request held records for a partition the producer does not know: nothing of them was stored. */
export class KafkaPartitionUnknown extends Error {
  readonly code = 'KAFKA_PARTITION_UNKNOWN';
  constructor(readonly topic: string, readonly partition: number) {
    super(`kafka log: partition ${partition} of ${topic} unknown to the producer; its records were not sent`);
    this.name = 'KafkaPartitionUnknown';
  }
}

/**
 * PartitionedLog on a real Apache Kafka cluster, through kafkajs 2.2: topics (admin), the
 * producer, and a KafkaLogConsumer per consume(). What the engine must know about kafkajs's
 * consumer group (heartbeats, eager rebalances, commits) is written at KafkaLogConsumer.
 */
export class KafkaLog implements PartitionedLog {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  /** Partition counts as ensureTopics found them: the node's topology (partitionsOf). */
  private readonly partitionCounts = new Map<string, number>();
  /** Partition counts that keyed records are routed by, read again every partitionRefreshMs. */
  private readonly routingCounts = new Map<string, number>();
  /** Counts read but not routed by yet: from `at` on, the producer's metadata holds them too. */
  private readonly nextCounts = new Map<string, { count: number; at: number }>();
  private routingReadAt = 0;
  private routingRefresh: Promise<void> | undefined;
  private readonly consumers = new Set<KafkaLogConsumer>();
  private adminReady: Promise<Admin> | undefined;
  private producerReady: Promise<Producer> | undefined;
  private readonly accumulators: Record<Lane, ProduceAccumulator>;
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
    const accumulator = (failBehind: boolean) => new ProduceAccumulator(
      async (topicMessages) => {
        const acked = await (await this.producer()).sendBatch({ topicMessages, acks: -1, compression });
        throwIfUnacknowledged(topicMessages, acked);
      },
      PUBLISH_CHUNK_PER_PARTITION,
      PUBLISH_RECORDS_PER_REQUEST,
      failBehind,
    );
    // Intake's lane carries the forwards to telemetry.by-vehicle, which a partition keeps in
    // flight several at a time and sends again in order after a failure: a failed request must
    // fail what is queued behind it (ProduceAccumulator failBehind). A checkpoint waits for its
    // outputs before the next one starts: other partitions' outputs behind a failure still go.
    this.accumulators = { outputs: accumulator(false), intake: accumulator(true) };
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
      // Resolves once every new partition has a leader. A concurrent creator (another node)
      // makes it return false (TOPIC_ALREADY_EXISTS), which is fine.
      await createTopicsWithLeaders(admin, topics);
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
   * acks=-1, in the configured codec. Publishes of one lane (laneOf: the checkpoints' outputs,
   * or everything else) made while its produce request is in flight leave together in its next
   * one, every topic of the lane in one request (ProduceAccumulator), in requests of at most
   * PUBLISH_CHUNK_PER_PARTITION records per partition of a topic and PUBLISH_RECORDS_PER_REQUEST
   * in all, one request of a lane at a time (their order holds: a topic is in one lane). Resolves
   * only once the broker acknowledged every record; rejects otherwise (after kafkajs's retries),
   * in which case any subset may have been stored, and nothing of it is in flight any more.
   */
  async publish(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    if (!this.partitionCounts.has(topic)) await this.refreshPartitions(await this.admin(), [topic]);
    this.refreshRoutingIfStale();
    const partitions = this.routingCount(topic);
    // murmur2 of the key, as kafkajs's default partitioner would (without its Buffer per key):
    // the accumulator counts each request's records per partition.
    await this.accumulators[laneOf(topic)].publish(topic, records.map((r) => ({
      key: r.key, value: r.value === null ? null : toBuffer(r.value), partition: r.partition ?? partitionForKey(r.key, partitions),
    })));
  }

  private get refreshMs(): number {
    return this.options.partitionRefreshMs ?? 300_000;
  }

  /** The partition count `topic`'s keyed records are routed by now. */
  private routingCount(topic: string): number {
    const next = this.nextCounts.get(topic);
    if (next !== undefined && Date.now() >= next.at) {
      this.routingCounts.set(topic, next.count);
      this.nextCounts.delete(topic);
    }
    return this.routingCounts.get(topic) ?? this.partitionsOf(topic);
  }

  /**
   * Reads the partition counts of the topics published to again, in the background, once they
   * are partitionRefreshMs old: partitions added to a topic (kafka-topics --alter) get their
   * share of the keys, as kafkajs's partitioner gave them once its metadata was refreshed. A new
   * count is routed by only partitionRefreshMs after it was read: kafkajs drops, without an
   * error, the records of a partition its producer's metadata does not know yet (and that old,
   * the producer has read its metadata again, since a send refreshes metadata older than that).
   * The node's topology (partitionsOf) does not change: a node started with N partitions keeps them.
   */
  private refreshRoutingIfStale(): void {
    if (this.closed || this.routingRefresh !== undefined || Date.now() - this.routingReadAt < this.refreshMs) return;
    this.routingReadAt = Date.now();
    this.routingRefresh = (async () => {
      try {
        const { topics } = await (await this.admin()).fetchTopicMetadata({ topics: [...this.partitionCounts.keys()] });
        const at = Date.now() + this.refreshMs;
        for (const t of topics) {
          const before = this.nextCounts.get(t.name)?.count ?? this.routingCounts.get(t.name);
          if (before === undefined || before === t.partitions.length) continue;
          this.options.log.warn({ topic: t.name, before, now: t.partitions.length, fromMs: this.refreshMs }, 'kafka topic partition count changed; keyed records are routed by the new one soon');
          this.nextCounts.set(t.name, { count: t.partitions.length, at });
        }
      } catch (e) {
        this.options.log.warn({ err: (e as Error).message }, 'kafka partition counts not read again; routing by the last ones');
      } finally {
        this.routingRefresh = undefined;
      }
    })();
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
    await Promise.all([this.accumulators.outputs.drained(), this.accumulators.intake.drained()]);
    await this.routingRefresh;
    const producer = this.producerReady;
    const admin = this.adminReady;
    this.producerReady = undefined;
    this.adminReady = undefined;
    if (producer) await (await producer.catch(() => undefined))?.disconnect();
    if (admin) await (await admin.catch(() => undefined))?.disconnect();
  }

  private async refreshPartitions(admin: Admin, topics: readonly string[]): Promise<void> {
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...topics] });
    for (const t of metadata) {
      this.partitionCounts.set(t.name, t.partitions.length);
      if (!this.routingCounts.has(t.name)) this.routingCounts.set(t.name, t.partitions.length);
    }
    if (this.routingReadAt === 0) this.routingReadAt = Date.now();
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
        metadataMaxAge: this.refreshMs,
      });
      this.producerReady = producer.connect().then(() => producer);
      this.producerReady.catch(() => { this.producerReady = undefined; });
    }
    return this.producerReady;
  }
}
