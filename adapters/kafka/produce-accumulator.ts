import type { Message, TopicMessages } from 'kafkajs';

/** A message whose partition is already chosen (the accumulator counts per partition). */
export type PartitionedMessage = Message & { partition: number };

interface Publication {
  /** Chunks of this publish still in the queue. */
  queued: number;
  /** Chunks of this publish in a request not answered yet. */
  inFlight: number;
  /** The first error of a request holding one of its chunks; its queued chunks are dropped. */
  error: Error | null;
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
 * chunk of it is acknowledged. When a request holding one of its chunks fails, its chunks still
 * queued are dropped (sent after the failure they would land before the records the caller
 * publishes again: a key would read e3, e4, e1, e2, e3, e4), and it rejects once none of its
 * chunks is in flight any more: when its promise settles, nothing of it can still be stored
 * later. Any subset of its records may have been stored, as before. With `failBehind`, a failed
 * request also fails, unsent, every other publish queued behind it at that moment, and refuses
 * publishes until the next turn of the event loop (the rejections reach their publishers within
 * the turn): nothing
 * published after a failed record reaches the broker before that record's publisher learnt of
 * the failure, so a publisher that keeps several publishes in flight and sends its failed ones
 * again in order (PartitionShard's forwards) keeps every key in order.
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
   * @param perRequest most messages a request may hold, every topic and partition together: kafkajs
   *   encodes a request in one go, holding the event loop for as long, and whatever else waits
   *   for this accumulator waits for the whole request.
   * @param failBehind a failed request also fails every other publish queued behind it and
   *   those made in the same turn (see the class comment); without it they still go.
   */
  constructor(
    private readonly send: SendBatch,
    private readonly perPartition: number,
    private readonly perRequest = Number.POSITIVE_INFINITY,
    private readonly failBehind = false,
  ) {}

  publish(topic: string, messages: readonly PartitionedMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    if (this.refusing !== null) return Promise.reject(this.refusing);
    return new Promise<void>((resolve, reject) => {
      const publication: Publication = { queued: 0, inFlight: 0, error: null, resolve, reject };
      // Cut where a partition would exceed its share or the chunk a request: chunks keep the
      // publish's order.
      let chunk: Chunk = { topic, messages: [], perPartition: new Map(), publication };
      for (const m of messages) {
        const n = chunk.perPartition.get(m.partition) ?? 0;
        if (n === this.perPartition || chunk.messages.length === this.perRequest) {
          this.queue.push(chunk);
          publication.queued++;
          chunk = { topic, messages: [], perPartition: new Map(), publication };
        }
        chunk.messages.push(m);
        chunk.perPartition.set(m.partition, (chunk.perPartition.get(m.partition) ?? 0) + 1);
      }
      this.queue.push(chunk);
      publication.queued++;
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
    if (batch.length === 0) {
      // Only dropped chunks were left.
      this.sending = false;
      this.kick();
      return;
    }
    const perTopic = new Map<string, Message[]>();
    for (const chunk of batch) {
      const messages = perTopic.get(chunk.topic);
      if (messages === undefined) perTopic.set(chunk.topic, [...chunk.messages]);
      else for (const m of chunk.messages) messages.push(m);
    }
    let error: Error | null = null;
    try {
      await this.send([...perTopic].map(([topic, messages]) => ({ topic, messages })));
    } catch (e) {
      error = e as Error;
    }
    try {
      for (const { publication } of batch) {
        publication.inFlight--;
        if (error !== null && publication.error === null) {
          publication.error = error;
          // Its chunks still queued are dropped (takeBatch skips them).
          publication.queued = 0;
        }
      }
      for (const { publication } of batch) this.settle(publication);
      if (error !== null && this.failBehind) this.refuseBehind(error);
    } finally {
      this.sending = false;
      this.kick();
    }
  }

  /**
   * After a failed request: every publish still queued fails unsent (it would reach the broker
   * before the failed records, which their publishers send again), and so does every publish
   * made until the next turn (made before its publisher could know of the failure).
   */
  private refuseBehind(cause: Error): void {
    const behind = new Error(`not sent: an earlier produce request failed (${cause?.message ?? String(cause)})`);
    for (let i = this.head; i < this.queue.length; i++) {
      const publication = this.queue[i].publication;
      if (publication.error !== null) continue;
      publication.error = behind;
      publication.queued = 0;
      this.settle(publication);
    }
    this.queue = [];
    this.head = 0;
    this.refusing = behind;
    setImmediate(() => {
      this.refusing = null;
      this.kick();
    });
  }

  /** Settles a publication once none of its chunks is queued or in flight. */
  private settle(publication: Publication): void {
    if (publication.queued > 0 || publication.inFlight > 0) return;
    if (publication.error === null) publication.resolve();
    else publication.reject(publication.error);
  }

  /**
   * The queue's first chunks, as many as fit one request (at least one unless only dropped
   * chunks are left): chunks of a publish that already failed are dropped.
   */
  private takeBatch(): Chunk[] {
    const counts = new Map<string, Map<number, number>>();
    const batch: Chunk[] = [];
    let messages = 0;
    while (this.head < this.queue.length) {
      const chunk = this.queue[this.head];
      if (chunk.publication.error !== null) {
        this.head++;
        continue;
      }
      let topicCounts = counts.get(chunk.topic);
      if (batch.length > 0 && messages + chunk.messages.length > this.perRequest) break;
      if (batch.length > 0 && topicCounts !== undefined) {
        const counted = topicCounts;
        if ([...chunk.perPartition].some(([p, n]) => (counted.get(p) ?? 0) + n > this.perPartition)) break;
      }
      if (topicCounts === undefined) counts.set(chunk.topic, (topicCounts = new Map()));
      for (const [p, n] of chunk.perPartition) topicCounts.set(p, (topicCounts.get(p) ?? 0) + n);
      batch.push(chunk);
      messages += chunk.messages.length;
      chunk.publication.queued--;
      chunk.publication.inFlight++;
      this.head++;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
    return batch;
  }
}
