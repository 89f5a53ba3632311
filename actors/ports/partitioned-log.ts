/**
 * The bus: a partitioned, ordered, offset-addressed log with Kafka's semantics.
 * Implemented in-process by adapters/embedded/embedded-log.ts and by Kafka in
 * adapters/kafka. The core only ever sees this contract.
 */

export interface LogRecord {
  readonly topic: string;
  readonly partition: number;
  /** Position of the record in its partition; strictly increasing, starting at 0. */
  readonly offset: number;
  readonly key: string | null;
  /** null is a tombstone (compacted topics). */
  readonly value: Uint8Array | null;
  /** Producer timestamp, ms since epoch. */
  readonly timestamp: number;
}

export interface OutgoingRecord {
  readonly key: string;
  readonly value: Uint8Array | null;
  /** Explicit partition; absent: murmur2 of the key, as Kafka's default partitioner does. */
  readonly partition?: number;
}

export interface RecordBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly LogRecord[];
  /** Keeps group membership alive during long batches (kafkajs ties heartbeats to processing). */
  heartbeat(): Promise<void>;
}

export interface PartitionAssignmentListener {
  /** Called before the first batch of newly owned partitions is delivered. */
  onAssigned(topic: string, partitions: readonly number[]): Promise<void>;
  /** Called when partitions are taken away; finish and checkpoint before resolving. */
  onRevoked(topic: string, partitions: readonly number[]): Promise<void>;
}

export interface ConsumerOptions {
  readonly groupId: string;
  readonly topic: string;
  /**
   * Topics with as many partitions as `topic`, read by the same member: partition p of each is
   * delivered to the owner of partition p of `topic` (Kafka Streams' co-partitioning). The
   * listener is told about `topic`'s partitions only; batches carry their topic.
   */
  readonly copartitioned?: readonly string[];
  /** Where a partition with no committed offset starts. */
  readonly fromBeginning: boolean;
  readonly onBatch: (batch: RecordBatch) => Promise<void>;
  readonly listener?: PartitionAssignmentListener;
  /**
   * This member's stable identity in a group of several processes: partitions are then mapped
   * to members by the consistent-hash assignment of cluster/ (absent: the log's default).
   */
  readonly member?: GroupMember;
}

export interface GroupMember {
  /** Stable across restarts (NODE_ID). */
  readonly nodeId: string;
  /** Relative capacity, read at every join (0 = take no partitions). */
  weight(): number;
  /** Where operators reach this node's HTTP API (announced to the group). */
  readonly url?: string;
}

export interface LogConsumer {
  /**
   * Commit: the next offset to read for the partition (Kafka convention: last processed + 1),
   * of `topic` (default: the consumer's main topic) or one of its co-partitioned topics.
   */
  commit(partition: number, nextOffset: number, topic?: string): Promise<void>;
  /** Stops intake; no further batches are delivered once the promise resolves. */
  stop(): Promise<void>;
  /** Pauses/resumes delivery (backpressure). */
  pause(): void;
  resume(): void;
  /**
   * Leaves the consumer group and joins it again: every owned partition is revoked (onRevoked),
   * then the new assignment arrives (onAssigned). How a node gives up a partition it can no
   * longer hold (Kafka has no per-partition release). Do not await it from onBatch or a
   * listener callback: it waits for them.
   */
  rejoin(): Promise<void>;
  /** Records not yet consumed per partition (high watermark - position), when the log knows it. */
  lag?(): Map<number, number>;
  /** Whether the consumer is running (a crashed one is down until its restart succeeds). */
  status?(): ConsumerStatus;
}

export interface ConsumerStatus {
  /** false while the consumer is down: crashed and not restarted yet, or stopped. */
  readonly running: boolean;
  /** Why it last went down (a crash's error), null if it never did. */
  readonly lastCrash: string | null;
  /** Restarts after a crash since the consumer was created. */
  readonly restarts: number;
}

/**
 * How much of a topic each partition keeps, independent of consumer commits (Kafka's
 * retention.ms / retention.bytes). A record is dropped once it is older than `ms` or once
 * the partition holds more than `bytes` (keys + values) without it.
 */
export interface TopicRetention {
  readonly ms?: number;
  /** Per partition, like Kafka's retention.bytes. */
  readonly bytes?: number;
}

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly compacted?: boolean;
  /** Unset: the log's default (the embedded log keeps what a group has not committed). */
  readonly retention?: TopicRetention;
}

export interface PartitionedLog {
  readonly kind: 'embedded' | 'kafka';
  ensureTopics(topics: readonly TopicSpec[]): Promise<void>;
  partitionsOf(topic: string): number;
  /**
   * Resolves once every record is stored. Publishes made without waiting for each other are
   * stored in the order they were made; when one fails, those made after it and before its
   * rejection was delivered (the same turn of the event loop) fail too, unstored, so that a
   * publisher that sends them again in order keeps its keys in order (KafkaLog; the embedded log
   * stores each publish as it is made and refuses only a partition that does not exist).
   */
  publish(topic: string, records: readonly OutgoingRecord[]): Promise<void>;
  consume(options: ConsumerOptions): Promise<LogConsumer>;
  close(): Promise<void>;
}

export const Topics = {
  telemetryRaw: 'telemetry.raw',
  fleetReference: 'fleet.reference',
  vehicleUpdates: 'vehicle.updates',
  vehicleEvents: 'vehicle.events',
  /** Every change of every vehicle as it happens, batched per partition (cross-node delivery). */
  vehicleLive: 'vehicle.live',
  /**
   * Points whose vehicle lives in another partition than their device's record, forwarded there
   * keyed by vehicle id (Kafka Streams' repartition topic): one writer per vehicle.
   */
  telemetryByVehicle: 'telemetry.by-vehicle',
} as const;

export const ConsumerGroups = {
  /** The engine nodes of a deployment: they share the partitions of telemetry.raw. */
  engine: 'fleetline-engine',
} as const;
