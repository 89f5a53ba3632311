import type { Consumer, ConsumerRunConfig, EachBatchPayload } from 'kafkajs';
import type { Logger } from '../../actors/ports/logger.js';
import type { ConsumerOptions, ConsumerStatus, LogConsumer, LogRecord, RecordBatch } from '../../actors/ports/partitioned-log.js';

/** Consumers that report per-partition lag (records behind the high watermark). */
export interface LagReporting {
  lag(): Map<number, number>;
}

export function reportsLag(consumer: LogConsumer): consumer is LogConsumer & LagReporting {
  return typeof (consumer as Partial<LagReporting>).lag === 'function';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Marks a kafkajs heartbeat failure so onBatch errors can be told apart from group errors. */
class GroupMembershipError extends Error {
  constructor(readonly kafkaError: unknown) {
    super(`kafka group membership: ${(kafkaError as Error)?.message ?? String(kafkaError)}`);
  }
}

/**
 * KafkaLog's LogConsumer: one kafkajs consumer-group member reading one topic (and the topics
 * co-partitioned with it: the group's assigner gives a member the same partitions of each).
 *
 * What the engine must know about kafkajs (read from its source, v2.2.4):
 *
 * - Heartbeats are NOT sent from a background thread. kafkajs heartbeats only from its fetch
 *   loop (between batches) and when the batch handler calls `heartbeat()`. A batch (or an
 *   onAssigned/onRevoked callback) that runs longer than `sessionTimeoutMs` without calling
 *   `RecordBatch.heartbeat()` loses group membership. `heartbeat()` is cheap to call often: it
 *   only sends a request when `heartbeatIntervalMs` elapsed since the last one.
 * - `heartbeat()` rejects (KafkaJSProtocolError REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION /
 *   UNKNOWN_MEMBER_ID) when the group rebalances. Let that rejection propagate out of onBatch:
 *   the adapter hands it back to kafkajs, which abandons the batch (its offsets are not
 *   resolved) and re-joins the group. Catching it and carrying on processes records of a
 *   partition that may be about to move.
 * - Rebalances are eager (stop-the-world) and kafkajs has no "before revoke" hook. The only
 *   signal is the GROUP_JOIN instrumentation event, emitted AFTER the new generation has been
 *   synced, i.e. the new owner may already be fetching a partition this member has lost. So
 *   `onRevoked` here runs after the fact; the adapter awaits it (and `onAssigned` for gained
 *   partitions) before it delivers any batch of the new generation. Because a commit made at
 *   that point would race the new owner's commits, `commit()` for a partition this consumer no
 *   longer owns is dropped with a warning: the new owner replays from the last commit made
 *   while this member still owned the partition, and the vehicle actor's timestamp guard makes
 *   that replay idempotent. Offsets are safe to commit before the rebalance completes: the
 *   eager protocol does not hand a partition to another member until this one re-joins, and
 *   kafkajs re-joins only after the running batch ended.
 * - After every re-join (even when this member keeps all of its partitions) kafkajs restarts
 *   fetching from the last COMMITTED offset: records processed but not committed yet are
 *   delivered again.
 * - Commit format: `commit(partition, next)` → `consumer.commitOffsets([{ topic, partition,
 *   offset: String(next) }])`, Kafka's convention (next offset to read = last processed + 1).
 *   Auto-commit is off; nothing is committed unless the engine commits.
 * - An error thrown by onBatch is not given to kafkajs (which would retry five times, then
 *   leave the group and restart the consumer, or stop for good on a TypeError): the adapter
 *   logs it, pauses that partition with a growing backoff (200 ms … 10 s) and delivers the
 *   same records again from the same offset, like the embedded log.
 * - `pause()` stops fetching for the whole topic; a batch already being processed completes.
 * - A kafkajs consumer that crashes (CRASH event: a batch it cannot decode, a lost broker, an
 *   error in the group protocol) leaves the group and, for many errors, stays stopped
 *   (`restart: false`). KafkaLog turns kafkajs's own restart off; this adapter restarts every
 *   crashed (or otherwise stopped) consumer itself, after a backoff that doubles from
 *   `restartBackoffMs` up to 30 s, and reports it down in `status()` until the restarted
 *   consumer joined its group again.
 */
export class KafkaLogConsumer implements LogConsumer, LagReporting {
  private readonly topic: string;
  /** The main topic and its co-partitioned ones: partition p of each goes with p of the main. */
  private readonly topics: readonly string[];
  /** Partitions of the current generation (updated on GROUP_JOIN). */
  private assigned = new Set<number>();
  /** The partitions of the last assignment (kept through a re-join). */
  private lastGiven: number[] = [];
  /** Assignment callbacks, chained (never rejects); batches of the partitions they move wait for them. */
  private transitions: Promise<void> = Promise.resolve();
  /** Partitions a pending assignment callback moves (count of callbacks each), and callbacks that move all. */
  private readonly moving = new Map<number, number>();
  private movingAll = 0;
  /** The first assignment's callbacks; consume() rejects when they fail. */
  private firstTransition: Promise<void> | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  /** `${topic}:${partition}` → records behind the high watermark. */
  private readonly lags = new Map<string, number>();
  /** partition → consecutive onBatch failures. */
  private readonly failures = new Map<number, number>();
  /** partition → timer ending its backoff pause after a failed onBatch. */
  private readonly backoff = new Map<number, NodeJS.Timeout>();
  private paused = false;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private rejoining: Promise<void> | undefined;
  private joins = 0;
  private readonly unsubscribe: (() => void)[] = [];
  /** Why the kafkajs consumer is not running (null while it runs). */
  private down: string | null = 'starting';
  private lastCrash: string | null = null;
  private restarts = 0;
  /** Consecutive restarts without a calm minute in between (sets the backoff). */
  private restartAttempt = 0;
  private runningSince = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private restarting: Promise<void> = Promise.resolve();

  constructor(
    private readonly consumer: Consumer,
    private readonly options: ConsumerOptions,
    private readonly log: Logger,
    private readonly heartbeatIntervalMs: number,
    private readonly onStopped: () => void,
    private readonly restartBackoffMs = 1_000,
  ) {
    this.topic = options.topic;
    this.topics = [options.topic, ...(options.copartitioned ?? [])];
  }

  status(): ConsumerStatus {
    return { running: this.down === null, lastCrash: this.lastCrash, restarts: this.restarts };
  }

  /** Number of GROUP_JOINs this member went through (1 = no rebalance since start). */
  get groupJoins(): number {
    return this.joins;
  }

  /** Partitions currently owned. */
  assignment(): number[] {
    return [...this.assigned].sort((a, b) => a - b);
  }

  /**
   * What this member claims when it joins: the partitions the group last gave it, also across a
   * re-join (which revokes them locally first), so that a rebalance keeps them where they are.
   */
  claims(): number[] {
    return [...this.lastGiven];
  }

  /**
   * Per partition: high watermark − (last delivered offset + 1) as of the last batch, summed
   * over the co-partitioned topics.
   */
  lag(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [key, n] of this.lags) {
      const p = Number(key.slice(key.lastIndexOf(':') + 1));
      out.set(p, (out.get(p) ?? 0) + n);
    }
    return out;
  }

  async start(): Promise<void> {
    const { events } = this.consumer;
    this.unsubscribe.push(this.consumer.on(events.GROUP_JOIN, (e) => {
      this.joins += 1;
      this.onGroupJoin(e.payload.memberAssignment[this.topic] ?? []);
    }));
    this.unsubscribe.push(this.consumer.on(events.CRASH, (e) => {
      // kafkajs left the group and disconnected; the restart's GROUP_JOIN assigns again.
      const err = e.payload.error?.message ?? String(e.payload.error);
      this.lastCrash = err;
      this.markDown(`crashed: ${err}`);
      this.log.error({ topic: this.topic, groupId: this.options.groupId, err }, 'kafka consumer crashed');
      this.onGroupJoin([]);
      this.scheduleRestart();
    }));
    // kafkajs emits STOP (before CRASH) when its runner stops; a stop that is not ours is a crash too.
    this.unsubscribe.push(this.consumer.on(events.STOP, () => {
      // Our own stop, or a re-join's stop before it runs again.
      if (this.stopping || this.rejoining !== undefined) return;
      this.markDown('stopped');
      this.scheduleRestart();
    }));
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.topics], fromBeginning: this.options.fromBeginning });
    // run() resolves once the first join + sync completed (GROUP_JOIN already emitted).
    await this.consumer.run(this.runConfig());
    this.markRunning();
    // Like the embedded log: consume() resolves after onAssigned of the first assignment.
    await this.firstTransition;
  }

  private runConfig(): ConsumerRunConfig {
    return {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.eachBatch(payload),
    };
  }

  /**
   * Gives every partition up and joins the group again (kafkajs has no per-partition release):
   * onRevoked for all owned partitions while still a member (their last commits go through),
   * then stop (leave the group) and run (join): the new assignment arrives through GROUP_JOIN
   * as partitions added. Not awaited from onBatch or listener callbacks: stop() waits for them.
   */
  rejoin(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    this.rejoining ??= this.doRejoin().finally(() => { this.rejoining = undefined; });
    return this.rejoining;
  }

  /** onRevoked for every owned partition (while still a member: its last commits go through), then forgets them. */
  private async revokeAll(): Promise<void> {
    const owned = this.assignment();
    try {
      if (owned.length > 0) await this.options.listener?.onRevoked(this.topic, owned);
    } finally {
      this.assigned.clear();
      this.lags.clear();
      this.failures.clear();
      for (const t of this.backoff.values()) clearTimeout(t);
      this.backoff.clear();
    }
  }

  private async doRejoin(): Promise<void> {
    this.movingAll++;
    const revoke = this.transitions.then(() => this.revokeAll()).finally(() => { this.movingAll--; });
    this.transitions = revoke.catch((err: unknown) => {
      this.log.error({ topic: this.topic, err: (err as Error)?.message ?? String(err) }, 'kafka re-join: revoke failed');
    });
    await this.transitions;
    if (this.stopping) return;
    this.log.info({ topic: this.topic, groupId: this.options.groupId }, 'kafka consumer re-joining its group');
    await this.consumer.stop();
    if (this.stopping) return;
    await this.consumer.run(this.runConfig());
    this.markRunning();
  }

  private markDown(reason: string): void {
    if (this.down === null) this.down = reason;
    else if (reason !== 'stopped') this.down = reason;
  }

  private markRunning(): void {
    // A crash during run() (it is async) already marked the consumer down again.
    if (this.down !== null && this.down !== 'starting' && this.down !== 'restarting') return;
    this.down = null;
    this.runningSince = Date.now();
  }

  private scheduleRestart(): void {
    if (this.stopping || this.restartTimer !== undefined) return;
    // A consumer that ran calmly for a minute starts over at the shortest backoff.
    if (this.runningSince > 0 && Date.now() - this.runningSince > 60_000) this.restartAttempt = 0;
    const delay = Math.min(30_000, this.restartBackoffMs * 2 ** Math.min(this.restartAttempt, 5));
    this.restartAttempt += 1;
    this.log.warn({ topic: this.topic, groupId: this.options.groupId, attempt: this.restartAttempt, retryInMs: delay, reason: this.down }, 'kafka consumer down; restarting it');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarting = this.restart();
    }, delay);
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    const reason = this.down;
    this.down = 'restarting';
    try {
      await this.consumer.connect();
      await this.consumer.run(this.runConfig());
      this.restarts += 1;
      this.markRunning();
      if (this.down === null) this.log.info({ topic: this.topic, groupId: this.options.groupId, restarts: this.restarts, after: reason }, 'kafka consumer restarted');
    } catch (e) {
      this.markDown(`restart failed: ${(e as Error)?.message ?? String(e)}`);
      this.log.error({ topic: this.topic, groupId: this.options.groupId, err: (e as Error)?.message ?? String(e) }, 'kafka consumer restart failed');
      await this.consumer.disconnect().catch(() => undefined);
      this.scheduleRestart();
    }
  }

  private onGroupJoin(partitions: readonly number[]): void {
    if (this.stopping) {
      // stop() already revoked everything it owned; only forget what moved away meanwhile.
      this.assigned = new Set(partitions.filter((p) => this.assigned.has(p)));
      return;
    }
    const next = new Set(partitions);
    this.lastGiven = [...next].sort((a, b) => a - b);
    const revoked = [...this.assigned].filter((p) => !next.has(p)).sort((a, b) => a - b);
    const added = [...next].filter((p) => !this.assigned.has(p)).sort((a, b) => a - b);
    this.assigned = next;
    for (const p of revoked) {
      for (const t of this.topics) this.lags.delete(`${t}:${p}`);
      this.failures.delete(p);
      clearTimeout(this.backoff.get(p));
      this.backoff.delete(p);
    }
    // A crash-restart builds a new kafkajs consumer group, which forgets pauses.
    if (this.paused) this.applyPause();
    for (const p of this.backoff.keys()) this.setPartitionPaused(p, true);
    const listener = this.options.listener;
    if (!listener || (revoked.length === 0 && added.length === 0)) return;
    this.log.info({ topic: this.topic, groupId: this.options.groupId, revoked, assigned: added }, 'kafka partition assignment changed');
    const moves = [...revoked, ...added];
    for (const p of moves) this.moving.set(p, (this.moving.get(p) ?? 0) + 1);
    const transition = this.transitions.then(async () => {
      if (revoked.length > 0) await listener.onRevoked(this.topic, revoked);
      if (added.length > 0) await listener.onAssigned(this.topic, added);
    }).finally(() => {
      for (const p of moves) {
        const n = (this.moving.get(p) ?? 1) - 1;
        if (n > 0) this.moving.set(p, n);
        else this.moving.delete(p);
      }
    });
    this.firstTransition ??= transition;
    // A failed callback is logged and the chain goes on (the first one also fails consume()).
    this.transitions = transition.catch((err: unknown) => {
      this.log.error({ topic: this.topic, err: (err as Error)?.message ?? String(err), revoked, assigned: added }, 'kafka partition assignment callback failed');
    });
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    // The assignment callbacks of its partition first, heartbeating while they run (kafkajs has
    // no background heartbeat). A partition that stays goes on meanwhile: the hand-off of another
    // (its last checkpoint, its actors stopped) is no reason to hold its vehicles still.
    if (this.movingAll > 0 || this.moving.has(batch.partition)) await this.waitTransitions(payload);
    if (this.stopping || this.paused || !payload.isRunning() || payload.isStale()) return;
    if (!this.assigned.has(batch.partition) || this.backoff.has(batch.partition)) return;
    const last = batch.messages[batch.messages.length - 1];
    if (!last) return;
    const records: LogRecord[] = batch.messages.map((m) => ({
      topic: batch.topic,
      partition: batch.partition,
      offset: Number(m.offset),
      key: m.key === null || m.key === undefined ? null : m.key.toString('utf8'),
      value: m.value === null ? null : new Uint8Array(m.value.buffer, m.value.byteOffset, m.value.byteLength),
      timestamp: Number(m.timestamp),
    }));
    const recordBatch: RecordBatch = {
      topic: batch.topic,
      partition: batch.partition,
      records,
      heartbeat: async () => {
        try {
          await payload.heartbeat();
        } catch (e) {
          throw new GroupMembershipError(e);
        }
      },
    };
    let done!: () => void;
    this.inFlight = new Promise<void>((r) => { done = r; });
    try {
      await this.options.onBatch(recordBatch);
    } catch (e) {
      if (e instanceof GroupMembershipError) throw e.kafkaError; // kafkajs re-joins the group
      this.onBatchFailed(batch.topic, batch.partition, records[0].offset, e);
      return; // not resolved: the same records are fetched again after the backoff
    } finally {
      done();
    }
    this.failures.delete(batch.partition);
    // kafkajs maps the last message's offset to the batch's last offset (skips control records).
    payload.resolveOffset(last.offset);
    const highWatermark = Number(batch.highWatermark);
    this.lags.set(`${batch.topic}:${batch.partition}`, Math.max(0, highWatermark - (Number(last.offset) + 1)));
  }

  private async waitTransitions(payload: EachBatchPayload): Promise<void> {
    let settled = false;
    const t = this.transitions.finally(() => { settled = true; });
    while (!settled) {
      await Promise.race([t, sleep(this.heartbeatIntervalMs)]);
      if (!settled) await payload.heartbeat();
    }
  }

  private onBatchFailed(topic: string, partition: number, offset: number, err: unknown): void {
    const n = (this.failures.get(partition) ?? 0) + 1;
    this.failures.set(partition, n);
    const delay = Math.min(10_000, 200 * 2 ** Math.min(n - 1, 6));
    this.log.error({ topic, partition, offset, attempt: n, retryInMs: delay, err: (err as Error)?.message ?? String(err) }, 'onBatch failed; the batch will be delivered again');
    this.setPartitionPaused(partition, true);
    clearTimeout(this.backoff.get(partition));
    this.backoff.set(partition, setTimeout(() => {
      this.backoff.delete(partition);
      if (!this.paused && !this.stopping && this.assigned.has(partition)) this.setPartitionPaused(partition, false);
    }, delay));
  }

  private setPartitionPaused(partition: number, pause: boolean): void {
    try {
      const which = this.topics.map((topic) => ({ topic, partitions: [partition] }));
      if (pause) this.consumer.pause(which);
      else this.consumer.resume(which);
    } catch {
      // The kafkajs consumer group is being rebuilt (crash restart); GROUP_JOIN re-applies state.
    }
  }

  private applyPause(): void {
    try {
      this.consumer.pause(this.topics.map((topic) => ({ topic })));
    } catch {
      // see setPartitionPaused
    }
  }

  /**
   * Commits `nextOffset` (last processed + 1) for `partition`. A partition this consumer no
   * longer owns is skipped with a warning (see the class comment: its new owner replays).
   */
  async commit(partition: number, nextOffset: number, topic: string = this.topic): Promise<void> {
    if (!this.topics.includes(topic)) throw new Error(`kafka consumer of ${this.topic} does not read ${topic}`);
    if (!this.assigned.has(partition)) {
      this.log.warn({ topic, groupId: this.options.groupId, partition, nextOffset }, 'kafka commit skipped: partition no longer owned by this consumer');
      return;
    }
    await this.consumer.commitOffsets([{ topic, partition, offset: String(nextOffset) }]);
  }

  pause(): void {
    this.paused = true;
    this.applyPause();
  }

  resume(): void {
    this.paused = false;
    if (this.stopping) return;
    try {
      this.consumer.resume(this.topics.map((topic) => ({ topic })));
      for (const p of this.backoff.keys()) this.consumer.pause(this.topics.map((topic) => ({ topic, partitions: [p] })));
    } catch {
      // see setPartitionPaused
    }
  }

  /**
   * Stops intake, waits for the batch in progress, calls onRevoked for every owned partition
   * while still a group member (so its commits go through), then leaves the group.
   */
  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    this.stopping = true;
    await this.rejoining?.catch(() => undefined);
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.restarting;
    this.down = 'stopped';
    this.applyPause();
    for (const t of this.backoff.values()) clearTimeout(t);
    this.backoff.clear();
    await this.inFlight;
    await this.transitions.catch(() => undefined);
    try {
      await this.revokeAll();
    } finally {
      for (const off of this.unsubscribe) off();
      await this.consumer.disconnect();
      this.onStopped();
    }
  }
}
