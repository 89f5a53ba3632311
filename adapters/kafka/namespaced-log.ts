import type {
  ConsumerOptions, LogConsumer, OutgoingRecord, PartitionedLog, RecordBatch, TopicSpec,
} from '../../actors/ports/partitioned-log.js';

/**
 * Puts a deployment's topics and consumer groups under a prefix (KAFKA_TOPIC_PREFIX), so
 * several deployments — or test runs — share one Kafka cluster without seeing each other.
 */
export class NamespacedLog implements PartitionedLog {
  constructor(private readonly inner: PartitionedLog, private readonly prefix: string) {}

  get kind(): PartitionedLog['kind'] {
    return this.inner.kind;
  }

  private name(topic: string): string {
    return this.prefix + topic;
  }

  ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    return this.inner.ensureTopics(topics.map((t) => ({ ...t, name: this.name(t.name) })));
  }

  partitionsOf(topic: string): number {
    return this.inner.partitionsOf(this.name(topic));
  }

  publish(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    return this.inner.publish(this.name(topic), records);
  }

  consume(options: ConsumerOptions): Promise<LogConsumer> {
    const topic = options.topic;
    const listener = options.listener;
    return this.inner.consume({
      ...options,
      groupId: this.prefix + options.groupId,
      topic: this.name(topic),
      onBatch: (b: RecordBatch) => options.onBatch({
        topic, partition: b.partition, heartbeat: () => b.heartbeat(),
        records: b.records.map((r) => ({ ...r, topic })),
      }),
      listener: listener && {
        onAssigned: (_t, partitions) => listener.onAssigned(topic, partitions),
        onRevoked: (_t, partitions) => listener.onRevoked(topic, partitions),
      },
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
