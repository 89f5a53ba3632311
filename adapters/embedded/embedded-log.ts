import type {
  ConsumerOptions, ConsumerStatus, LogConsumer, LogRecord, OutgoingRecord, PartitionedLog, TopicSpec,
} from '../../actors/ports/partitioned-log.js';
import { partitionForKey } from './murmur2.js';

/**
 * One partition's retained records, kept as columns: the key, where the value's bytes are
 * (its ArrayBuffer, offset and length) and the timestamp of each, in arrays indexed by offset.
 * A record object and its value's view are made when a consumer reads it, and die young: held
 * as objects, the records retained until a checkpoint commits them (up to SNAPSHOT_INTERVAL_MS,
 * or a whole backlog) were two objects each that the collector moved to the old generation and
 * marked in every full collection. Dropping is logical (head moves) and the arrays are
 * compacted in chunks, so trimming a record at a time stays O(1) amortized.
 */
class Partition {
  /** Offset of the first retained record. */
  base = 0;
  /** Retained key + value bytes (what retention.bytes counts). */
  bytes = 0;
  private keys: (string | null)[] = [];
  /** null: a tombstone. */
  private buffers: (ArrayBufferLike | null)[] = [];
  private starts: number[] = [];
  private lengths: number[] = [];
  private timestamps: number[] = [];
  private head = 0;

  constructor(private readonly topic: string, private readonly partition: number) {}

  /** Offset the next record gets (Kafka's log end offset). */
  get end(): number {
    return this.base + this.keys.length - this.head;
  }

  get size(): number {
    return this.keys.length - this.head;
  }

  /** The timestamp of the retained record at `offset` (base <= offset < end). */
  timestampAt(offset: number): number {
    return this.timestamps[this.head + offset - this.base];
  }

  /** Key + value bytes of the retained record at `offset`. */
  bytesAt(offset: number): number {
    const i = this.head + offset - this.base;
    return (this.keys[i]?.length ?? 0) + this.lengths[i];
  }

  append(key: string | null, value: Uint8Array | null, timestamp: number): void {
    this.keys.push(key);
    this.buffers.push(value === null ? null : value.buffer);
    this.starts.push(value === null ? 0 : value.byteOffset);
    this.lengths.push(value === null ? 0 : value.byteLength);
    this.timestamps.push(timestamp);
    this.bytes += (key?.length ?? 0) + (value?.byteLength ?? 0);
  }

  /** Records [from, to) of the retained ones, as records. */
  slice(from: number, to: number): LogRecord[] {
    const out = new Array<LogRecord>(to - from);
    for (let offset = from; offset < to; offset++) {
      const i = this.head + offset - this.base;
      const buffer = this.buffers[i];
      out[offset - from] = {
        topic: this.topic, partition: this.partition, offset, key: this.keys[i],
        value: buffer === null ? null : Buffer.from(buffer, this.starts[i], this.lengths[i]), timestamp: this.timestamps[i],
      };
    }
    return out;
  }

  /** Drops every retained record below `offset`. */
  dropBefore(offset: number): void {
    const n = Math.min(offset, this.end) - this.base;
    if (n <= 0) return;
    for (let i = this.head; i < this.head + n; i++) {
      this.bytes -= (this.keys[i]?.length ?? 0) + this.lengths[i];
      // Not kept alive by a dropped record waiting for compaction.
      this.keys[i] = null;
      this.buffers[i] = null;
    }
    this.head += n;
    this.base += n;
    if (this.head > 1024 && this.head * 2 > this.keys.length) {
      this.keys = this.keys.slice(this.head);
      this.buffers = this.buffers.slice(this.head);
      this.starts = this.starts.slice(this.head);
      this.lengths = this.lengths.slice(this.head);
      this.timestamps = this.timestamps.slice(this.head);
      this.head = 0;
    }
  }
}

/** A value sharing its buffer with other data (not Buffer#slice to copy it: that is a view too). */
const isView = (value: Uint8Array | null): value is Uint8Array => value !== null && value.byteLength < value.buffer.byteLength;

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
  /** How often age retention is applied to partitions nobody publishes to (default 1 s). */
  readonly retentionCheckMs?: number;
}

/** Stored records and key + value bytes of one topic, summed over its partitions. */
export interface RetainedStats {
  readonly records: number;
  readonly bytes: number;
}

/**
 * The in-process bus: Kafka's semantics (murmur2 key partitioning, per-partition order,
 * offsets, committed positions per consumer group) without a broker, for single-node use.
 * A group has one consumer here (one node), which owns every partition.
 *
 * Retention: a record is dropped once every group that consumes the topic committed past it
 * (keeping the last `retainRecords`), and, on a topic whose spec has `retention`, once it is
 * older than `retention.ms` or the partition holds more than `retention.bytes` without it,
 * whether or not anyone consumed it (Kafka's time and size retention). A group that falls
 * behind retention continues at the oldest retained record, as Kafka's
 * auto.offset.reset=earliest does. See docs/deployment.md for the retention each topic gets.
 */
export class EmbeddedLog implements PartitionedLog {
  readonly kind = 'embedded' as const;
  private readonly topics = new Map<string, Topic>();
  /** group → topic → partition → next offset */
  private readonly committed = new Map<string, Map<string, number[]>>();

  private retentionTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: EmbeddedLogOptions = { maxBatch: 2000, retainRecords: 1000 }) {}

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    for (const spec of specs) {
      if (this.topics.has(spec.name)) continue;
      const partitions = Array.from({ length: spec.partitions }, (_, i) => new Partition(spec.name, i));
      this.topics.set(spec.name, { spec, partitions, consumers: new Set() });
      if (spec.retention?.ms !== undefined && this.retentionTimer === null) {
        this.retentionTimer = setInterval(() => this.applyAgeRetention(), this.options.retentionCheckMs ?? 1000);
        this.retentionTimer.unref();
      }
    }
  }

  /** What a topic holds now (for tests and the soak benchmark). */
  retained(topicName: string): RetainedStats {
    let records = 0;
    let bytes = 0;
    for (const p of this.topic(topicName).partitions) {
      records += p.size;
      bytes += p.bytes;
    }
    return { records, bytes };
  }

  partitionsOf(topic: string): number {
    return this.topic(topic).partitions.length;
  }

  async publish(topicName: string, records: readonly OutgoingRecord[]): Promise<void> {
    const topic = this.topic(topicName);
    const n = topic.partitions.length;
    const now = Date.now();
    const touched = new Set<number>();
    const retained = topic.spec.retention !== undefined;
    const partitionOf = new Int32Array(records.length);
    // A value that is a view into a larger buffer (a pooled slab, an encoder's scratch) would
    // keep all of it alive for as long as retention keeps the record: retention.bytes would
    // count a fraction of the memory held. Such values are copied, all of one publish's for
    // one partition into one buffer of their size (a buffer per record cost 2 µs each): it is
    // held until the last of them is dropped, and a partition drops its records in order.
    let copyBytes: number[] | null = null;
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      const partition = r.partition ?? partitionForKey(r.key, n);
      if (!Number.isInteger(partition) || partition < 0 || partition >= n) throw new Error(`embedded log: no partition ${partition} in ${topicName}`);
      partitionOf[i] = partition;
      if (retained && isView(r.value)) (copyBytes ??= new Array<number>(n).fill(0))[partition] += r.value.byteLength;
    }
    const slabs: ({ readonly buffer: Uint8Array; at: number } | undefined)[] = [];
    if (copyBytes !== null) for (let p = 0; p < n; p++) if (copyBytes[p] > 0) slabs[p] = { buffer: new Uint8Array(copyBytes[p]), at: 0 };
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      const partition = partitionOf[i];
      const p = topic.partitions[partition];
      const slab = slabs[partition];
      let value = r.value;
      if (slab !== undefined && isView(value)) {
        slab.buffer.set(value, slab.at);
        value = slab.buffer.subarray(slab.at, slab.at + value.byteLength);
        slab.at += value.byteLength;
      }
      p.append(r.key, value, now);
      touched.add(partition);
    }
    if (topic.spec.retention) for (const partition of touched) this.applyRetention(topic, partition, now);
    for (const c of topic.consumers) c.wake(topic, touched);
  }

  async consume(options: ConsumerOptions): Promise<LogConsumer> {
    const topics = [options.topic, ...(options.copartitioned ?? [])].map((name) => this.topic(name));
    const n = topics[0].partitions.length;
    const mismatched = topics.find((t) => t.partitions.length !== n);
    if (mismatched) throw new Error(`embedded log: ${mismatched.spec.name} has ${mismatched.partitions.length} partitions, ${options.topic} has ${n}: co-partitioned topics need the same count`);
    const consumer = new EmbeddedConsumer(this, topics, options, this.options.maxBatch);
    for (const t of topics) t.consumers.add(consumer);
    await consumer.start();
    return consumer;
  }

  async close(): Promise<void> {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    this.retentionTimer = null;
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
    p.dropBefore(Math.min(low, p.end - this.options.retainRecords));
  }

  /** Time and size retention of one partition (Kafka's retention.ms / retention.bytes). */
  private applyRetention(topic: Topic, partition: number, now: number): void {
    const { ms, bytes } = topic.spec.retention ?? {};
    const p = topic.partitions[partition];
    let keepFrom = p.base;
    if (ms !== undefined) {
      while (keepFrom < p.end && p.timestampAt(keepFrom) < now - ms) keepFrom++;
    }
    if (bytes !== undefined) {
      let over = p.bytes - bytes;
      for (let o = p.base; o < keepFrom; o++) over -= p.bytesAt(o);
      while (over > 0 && keepFrom < p.end) over -= p.bytesAt(keepFrom++);
    }
    p.dropBefore(keepFrom);
  }

  private applyAgeRetention(): void {
    const now = Date.now();
    for (const topic of this.topics.values()) {
      if (topic.spec.retention?.ms === undefined) continue;
      for (let i = 0; i < topic.partitions.length; i++) this.applyRetention(topic, i, now);
    }
  }

  private topic(name: string): Topic {
    const t = this.topics.get(name);
    if (!t) throw new Error(`embedded log: unknown topic ${name} (ensureTopics first)`);
    return t;
  }
}

class EmbeddedConsumer implements LogConsumer {
  /** The main topic first, then the co-partitioned ones (same partition count). */
  private readonly topics: Topic[];
  /** topic index → partition → next offset to deliver. */
  private readonly position: number[][];
  /** `${topic index}:${partition}` keys with records to deliver. */
  private readonly ready = new Set<string>();
  private scheduled = false;
  private running = false;
  private paused = false;
  private stopped = false;
  /** A re-join in progress: nothing is delivered until the new assignment is in place. */
  private rejoining: Promise<void> | undefined;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly log: EmbeddedLog,
    topics: readonly Topic[],
    private readonly options: ConsumerOptions,
    private readonly maxBatch: number,
  ) {
    this.topics = [...topics];
    this.position = this.topics.map((t) => t.partitions.map((_, i) => this.startPosition(t, i)));
  }

  private get main(): Topic {
    return this.topics[0];
  }

  /** Where a partition starts after (re-)joining: its committed offset, like Kafka. */
  private startPosition(topic: Topic, partition: number): number {
    const p = topic.partitions[partition];
    const committed = this.log.committedOffset(this.options.groupId, topic.spec.name, partition);
    if (committed !== undefined) return Math.max(committed, p.base);
    return this.options.fromBeginning ? p.base : p.end;
  }

  private allPartitions(): number[] {
    return this.main.partitions.map((_, i) => i);
  }

  async start(): Promise<void> {
    await this.options.listener?.onAssigned(this.main.spec.name, this.allPartitions());
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const t of this.topics) this.wake(t, this.allPartitions());
  }

  wake(topic: Topic, partitions: Iterable<number>): void {
    const t = this.topics.indexOf(topic);
    if (t < 0) return;
    for (const p of partitions) this.ready.add(`${t}:${p}`);
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

  /**
   * Every ready partition is consumed concurrently (each one in order), like kafkajs's
   * partitionsConsumedConcurrently; a partition's topics one after the other.
   */
  private async drain(): Promise<void> {
    this.running = true;
    try {
      const byPartition = new Map<number, number[]>();
      for (const key of this.ready) {
        const [t, p] = key.split(':').map(Number);
        const list = byPartition.get(p);
        if (list) list.push(t);
        else byPartition.set(p, [t]);
      }
      this.ready.clear();
      await Promise.all([...byPartition].map(async ([p, ts]) => {
        for (const t of ts.sort()) await this.drainPartition(t, p);
      }));
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  private async drainPartition(t: number, partition: number): Promise<void> {
    const topic = this.topics[t];
    const p = topic.partitions[partition];
    const position = this.position[t];
    while (!this.stopped && !this.paused && !this.rejoining) {
      // Records below base were dropped by retention: continue at the oldest one left.
      const from = Math.max(position[partition], p.base);
      const end = p.end;
      if (from >= end) return;
      const to = Math.min(end, from + this.maxBatch);
      const records = p.slice(from, to);
      try {
        await this.options.onBatch({ topic: topic.spec.name, partition, records, heartbeat: async () => {} });
      } catch {
        // Like Kafka: a failed batch is delivered again from the same offset, after a pause.
        setTimeout(() => this.wake(topic, [partition]), 200).unref();
        return;
      }
      position[partition] = to;
    }
    // Paused or stopped with records left: resume() / a later wake picks the partition up again.
    if (position[partition] < p.end) this.ready.add(`${t}:${partition}`);
  }

  status(): ConsumerStatus {
    return { running: !this.stopped, lastCrash: null, restarts: 0 };
  }

  async commit(partition: number, nextOffset: number, topic: string = this.main.spec.name): Promise<void> {
    const t = this.topics.find((x) => x.spec.name === topic);
    if (!t) throw new Error(`embedded log: consumer of ${this.main.spec.name} does not read ${topic}`);
    this.log.commitOffset(this.options.groupId, t, partition, nextOffset);
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
      const all = this.allPartitions();
      await this.options.listener?.onRevoked(this.main.spec.name, all);
      if (this.stopped) return;
      this.topics.forEach((t, i) => { for (const p of all) this.position[i][p] = this.startPosition(t, p); });
      await this.options.listener?.onAssigned(this.main.spec.name, all);
    })().finally(() => {
      this.rejoining = undefined;
      this.wakeAll();
    });
    return this.rejoining;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.rejoining?.catch(() => undefined);
    this.stopped = true;
    await this.idle;
    for (const t of this.topics) this.log.detach(t, this);
    await this.options.listener?.onRevoked(this.main.spec.name, this.allPartitions());
  }
}
