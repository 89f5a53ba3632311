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

  async consume(options: ConsumerOptions): Promise<LogConsumer> {
    const topic = options.topic;
    const listener = options.listener;
    const unprefixed = (name: string) => (name.startsWith(this.prefix) ? name.slice(this.prefix.length) : name);
    const consumer = await this.inner.consume({
      ...options,
      groupId: this.prefix + options.groupId,
      topic: this.name(topic),
      ...(options.copartitioned && { copartitioned: options.copartitioned.map((t) => this.name(t)) }),
      onBatch: (b: RecordBatch) => {
        const name = unprefixed(b.topic);
        return options.onBatch({
          topic: name, partition: b.partition, heartbeat: () => b.heartbeat(),
          records: b.records.map((r) => ({ ...r, topic: name })),
        });
      },
      listener: listener && {
        onAssigned: (_t, partitions) => listener.onAssigned(topic, partitions),
        onRevoked: (_t, partitions) => listener.onRevoked(topic, partitions),
      },
    });
    // The consumer itself is handed out (callers use its adapter-specific methods too); only
    // commit's topic needs the prefix.
    const commit = consumer.commit.bind(consumer);
    consumer.commit = (partition, nextOffset, t) => commit(partition, nextOffset, t === undefined ? undefined : this.name(t));
    return consumer;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
