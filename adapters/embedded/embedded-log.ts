import type {
  ConsumerOptions, LogConsumer, LogRecord, OutgoingRecord, PartitionedLog, TopicSpec,
} from '../../actors/ports/partitioned-log.js';
import { partitionForKey } from './murmur2.js';

interface Partition {
  /** Offset of records[0]; records below it were trimmed after every group committed past them. */
  base: number;
  records: LogRecord[];
}

interface Topic {
  readonly spec: TopicSpec;
  readonly partitions: Partition[];
  readonly consumers: Set<EmbeddedConsumer>;
}

export interface EmbeddedLogOptions {
  /** Max records handed to one onBatch call. */
  readonly maxBatch: number;
  /** Records kept per partition even after every group committed past them (for late consumers). */
  readonly retainRecords: number;
}

/**
 * The in-process bus: Kafka's semantics (murmur2 key partitioning, per-partition order,
 * offsets, committed positions per consumer group) without a broker, for single-node use.
 * A group has one consumer here (one node), which owns every partition.
 */
export class EmbeddedLog implements PartitionedLog {
  readonly kind = 'embedded' as const;
  private readonly topics = new Map<string, Topic>();
  /** group → topic → partition → next offset */
  private readonly committed = new Map<string, Map<string, number[]>>();

  constructor(private readonly options: EmbeddedLogOptions = { maxBatch: 2000, retainRecords: 10_000 }) {}

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    for (const spec of specs) {
      if (this.topics.has(spec.name)) continue;
      const partitions = Array.from({ length: spec.partitions }, () => ({ base: 0, records: [] as LogRecord[] }));
      this.topics.set(spec.name, { spec, partitions, consumers: new Set() });
    }
  }

  partitionsOf(topic: string): number {
    return this.topic(topic).partitions.length;
  }

  async publish(topicName: string, records: readonly OutgoingRecord[]): Promise<void> {
    const topic = this.topic(topicName);
    const n = topic.partitions.length;
    const now = Date.now();
    const touched = new Set<number>();
    for (const r of records) {
      const partition = partitionForKey(r.key, n);
      const p = topic.partitions[partition];
      const offset = p.base + p.records.length;
      p.records.push({ topic: topicName, partition, offset, key: r.key, value: r.value, timestamp: now });
      touched.add(partition);
    }
    for (const c of topic.consumers) c.wake(touched);
  }

  async consume(options: ConsumerOptions): Promise<LogConsumer> {
    const topic = this.topic(options.topic);
    const consumer = new EmbeddedConsumer(this, topic, options, this.options.maxBatch);
    topic.consumers.add(consumer);
    await consumer.start();
    return consumer;
  }

  async close(): Promise<void> {
    for (const t of this.topics.values()) for (const c of [...t.consumers]) await c.stop();
  }

  /** @internal */
  committedOffset(group: string, topic: string, partition: number): number | undefined {
    return this.committed.get(group)?.get(topic)?.[partition];
  }

  /** @internal */
  commitOffset(group: string, topic: Topic, partition: number, next: number): void {
    let byTopic = this.committed.get(group);
    if (!byTopic) this.committed.set(group, (byTopic = new Map()));
    let offsets = byTopic.get(topic.spec.name);
    if (!offsets) byTopic.set(topic.spec.name, (offsets = []));
    offsets[partition] = Math.max(offsets[partition] ?? 0, next);
    this.trim(topic, partition);
  }

  /** @internal */
  detach(topic: Topic, consumer: EmbeddedConsumer): void {
    topic.consumers.delete(consumer);
  }

  private trim(topic: Topic, partition: number): void {
    let low = Infinity;
    for (const byTopic of this.committed.values()) {
      const off = byTopic.get(topic.spec.name)?.[partition];
      if (off !== undefined) low = Math.min(low, off);
    }
    const p = topic.partitions[partition];
    const keepFrom = Math.min(low, p.base + p.records.length - this.options.retainRecords);
    const drop = keepFrom - p.base;
    // Trim in chunks: splicing one record at a time would be quadratic.
    if (drop > 1024) {
      p.records.splice(0, drop);
      p.base += drop;
    }
  }

  private topic(name: string): Topic {
    const t = this.topics.get(name);
    if (!t) throw new Error(`embedded log: unknown topic ${name} (ensureTopics first)`);
    return t;
  }
}

class EmbeddedConsumer implements LogConsumer {
  private readonly position: number[];
  private readonly ready = new Set<number>();
  private scheduled = false;
  private running = false;
  private paused = false;
  private stopped = false;
  /** A re-join in progress: nothing is delivered until the new assignment is in place. */
  private rejoining: Promise<void> | undefined;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly log: EmbeddedLog,
    private readonly topic: Topic,
    private readonly options: ConsumerOptions,
    private readonly maxBatch: number,
  ) {
    this.position = topic.partitions.map((_, i) => this.startPosition(i));
  }

  /** Where a partition starts after (re-)joining: its committed offset, like Kafka. */
  private startPosition(partition: number): number {
    const p = this.topic.partitions[partition];
    const committed = this.log.committedOffset(this.options.groupId, this.topic.spec.name, partition);
    if (committed !== undefined) return Math.max(committed, p.base);
    return this.options.fromBeginning ? p.base : p.base + p.records.length;
  }

  async start(): Promise<void> {
    const all = this.topic.partitions.map((_, i) => i);
    await this.options.listener?.onAssigned(this.topic.spec.name, all);
    this.wake(new Set(all));
  }

  wake(partitions: Iterable<number>): void {
    for (const p of partitions) this.ready.add(p);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.running || this.paused || this.stopped || this.rejoining || this.ready.size === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.idle = this.drain();
    });
  }

  /** Every ready partition is consumed concurrently (each one in order), like kafkajs's partitionsConsumedConcurrently. */
  private async drain(): Promise<void> {
    this.running = true;
    try {
      const partitions = [...this.ready];
      this.ready.clear();
      await Promise.all(partitions.map((p) => this.drainPartition(p)));
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  private async drainPartition(partition: number): Promise<void> {
    const p = this.topic.partitions[partition];
    while (!this.stopped && !this.paused && !this.rejoining) {
      const from = this.position[partition];
      const end = p.base + p.records.length;
      if (from >= end) return;
      const to = Math.min(end, from + this.maxBatch);
      const records = p.records.slice(from - p.base, to - p.base);
      try {
        await this.options.onBatch({ topic: this.topic.spec.name, partition, records, heartbeat: async () => {} });
      } catch {
        // Like Kafka: a failed batch is delivered again from the same offset, after a pause.
        setTimeout(() => this.wake([partition]), 200).unref();
        return;
      }
      this.position[partition] = to;
    }
    // Paused or stopped with records left: resume() / a later wake picks the partition up again.
    if (this.position[partition] < p.base + p.records.length) this.ready.add(partition);
  }

  async commit(partition: number, nextOffset: number): Promise<void> {
    this.log.commitOffset(this.options.groupId, this.topic, partition, nextOffset);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  /**
   * The one member leaves and joins again: every partition is revoked, then assigned anew, and
   * delivery restarts from the committed offsets (what a Kafka re-join does).
   */
  rejoin(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.rejoining ??= (async () => {
      while (this.scheduled || this.running) await (this.running ? this.idle : new Promise<void>((r) => setImmediate(r)));
      const all = this.topic.partitions.map((_, i) => i);
      await this.options.listener?.onRevoked(this.topic.spec.name, all);
      if (this.stopped) return;
      for (const i of all) this.position[i] = this.startPosition(i);
      await this.options.listener?.onAssigned(this.topic.spec.name, all);
    })().finally(() => {
      this.rejoining = undefined;
      this.wake(this.topic.partitions.map((_, i) => i));
    });
    return this.rejoining;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.rejoining?.catch(() => undefined);
    this.stopped = true;
    await this.idle;
    this.log.detach(this.topic, this);
    const all = this.topic.partitions.map((_, i) => i);
    await this.options.listener?.onRevoked(this.topic.spec.name, all);
  }
}
