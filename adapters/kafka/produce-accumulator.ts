import type { Message, TopicMessages } from 'kafkajs';

/** A message whose partition is already chosen (the accumulator counts per partition). */
export type PartitionedMessage = Message & { partition: number };

interface Publication {
  /** Chunks of this publish not acknowledged yet. */
  unacked: number;
  failed: boolean;
  resolve(): void;
  reject(error: Error): void;
}

interface Chunk {
  readonly topic: string;
  readonly messages: PartitionedMessage[];
  /** Messages per partition in this chunk. */
  readonly perPartition: Map<number, number>;
  readonly publication: Publication;
}

/**
 * Sends one produce request's worth of messages, every topic in it (kafkajs's sendBatch); resolves
 * once the brokers acknowledged all of them.
 */
export type SendBatch = (topicMessages: TopicMessages[]) => Promise<void>;

/**
 * Gathers publishes into as few produce requests as it can, like the Java producer's record
 * accumulator: while a request is in flight, whatever is published meanwhile waits and leaves
 * with the next request, every topic in one request. The engine's producer keeps one request in
 * flight per broker (ordering without idempotence), so a request per publish call made every
 * publish wait for every one before it: a checkpoint round of 24 partitions sent 48 requests one
 * after the other (vehicle.updates and vehicle.events of each), each waiting for acks=-1.
 *
 * Order: chunks leave in the order they were published, one request at a time, so records of a
 * key keep their publish order (as with one send per publish). A publish resolves once every
 * chunk of it is acknowledged, and rejects if any request holding one of its chunks failed (any
 * subset of its records may then be stored, as before). A failed request also rejects, unsent,
 * every publish queued behind it at that moment, and refuses publishes until the next turn of the
 * event loop (the rejections reach their publishers within the turn): nothing published after
 * a failed record reaches the broker before that record's publisher learnt of the failure, so a publisher that
 * retries its failed publishes in order (PartitionShard's forwards) keeps every key in order
 * while it has several publishes in flight.
 */
export class ProduceAccumulator {
  private queue: Chunk[] = [];
  private head = 0;
  private sending = false;
  private idle: (() => void)[] = [];
  /** Set from a failed request until the next turn of the event loop: publishes are refused. */
  private refusing: Error | null = null;

  /**
   * @param perPartition most messages of one partition of a topic a request may hold: kafkajs
   *   groups a request's messages per partition in time quadratic in the messages per partition
   *   (and a checkpoint's views can all go to one partition: a bound vehicle's home partition is
   *   the one its key hashes to).
   */
  constructor(private readonly send: SendBatch, private readonly perPartition: number) {}

  publish(topic: string, messages: readonly PartitionedMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    if (this.refusing !== null) return Promise.reject(this.refusing);
    return new Promise<void>((resolve, reject) => {
      const publication: Publication = { unacked: 0, failed: false, resolve, reject };
      // Cut where a partition would exceed its share: chunks keep the publish's order.
      let chunk: Chunk = { topic, messages: [], perPartition: new Map(), publication };
      for (const m of messages) {
        const n = chunk.perPartition.get(m.partition) ?? 0;
        if (n === this.perPartition) {
          this.queue.push(chunk);
          publication.unacked++;
          chunk = { topic, messages: [], perPartition: new Map(), publication };
        }
        chunk.messages.push(m);
        chunk.perPartition.set(m.partition, (chunk.perPartition.get(m.partition) ?? 0) + 1);
      }
      this.queue.push(chunk);
      publication.unacked++;
      this.kick();
    });
  }

  /** Resolves once nothing is queued or in flight. */
  drained(): Promise<void> {
    if (!this.sending && this.refusing === null && this.head === this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private kick(): void {
    if (this.sending || this.refusing !== null) return;
    if (this.head === this.queue.length) {
      for (const resolve of this.idle.splice(0)) resolve();
      return;
    }
    this.sending = true;
    // One turn of the event loop first, so that what is published in the same turn (a
    // checkpoint's two topics, the partitions checkpointed side by side) leaves together.
    setImmediate(() => { void this.sendNext(); });
  }

  private async sendNext(): Promise<void> {
    const batch = this.takeBatch();
    const perTopic = new Map<string, Message[]>();
    for (const chunk of batch) {
      const messages = perTopic.get(chunk.topic);
      if (messages === undefined) perTopic.set(chunk.topic, [...chunk.messages]);
      else for (const m of chunk.messages) messages.push(m);
    }
    try {
      await this.send([...perTopic].map(([topic, messages]) => ({ topic, messages })));
      for (const { publication } of batch) {
        if (--publication.unacked === 0 && !publication.failed) publication.resolve();
      }
    } catch (e) {
      for (const { publication } of batch) this.fail(publication, e as Error);
      // What was queued behind the failed request is not sent: it would reach the broker before
      // the failed records, which their publishers retry (a key's records would change order).
      const behind = new Error(`not sent: an earlier produce request failed (${(e as Error)?.message ?? String(e)})`);
      for (let i = this.head; i < this.queue.length; i++) this.fail(this.queue[i].publication, behind);
      this.queue = [];
      this.head = 0;
      // Publishes made before the publishers' rejection handlers ran (the same turn's
      // microtasks: another batch of the consumer's fetch) are refused too.
      this.refusing = behind;
      setImmediate(() => {
        this.refusing = null;
        this.kick();
      });
      return;
    } finally {
      this.sending = false;
    }
    this.kick();
  }

  private fail(publication: Publication, error: Error): void {
    if (publication.failed) return;
    publication.failed = true;
    publication.reject(error);
  }

  /** The queue's first chunks, as many as fit one request (at least one). */
  private takeBatch(): Chunk[] {
    const counts = new Map<string, Map<number, number>>();
    const batch: Chunk[] = [];
    while (this.head < this.queue.length) {
      const chunk = this.queue[this.head];
      let topicCounts = counts.get(chunk.topic);
      if (batch.length > 0 && topicCounts !== undefined) {
        const counted = topicCounts;
        if ([...chunk.perPartition].some(([p, n]) => (counted.get(p) ?? 0) + n > this.perPartition)) break;
      }
      if (topicCounts === undefined) counts.set(chunk.topic, (topicCounts = new Map()));
      for (const [p, n] of chunk.perPartition) topicCounts.set(p, (topicCounts.get(p) ?? 0) + n);
      batch.push(chunk);
      this.head++;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
    return batch;
  }
}
