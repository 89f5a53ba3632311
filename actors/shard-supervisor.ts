import type { LogConsumer, PartitionedLog, RecordBatch } from './ports/partitioned-log.js';
import { Topics } from './ports/partitioned-log.js';
import type { ConsumerStatus } from './ports/partitioned-log.js';
import type { SnapshotStore } from './ports/snapshot-store.js';
import { FencedWriteError } from './ports/snapshot-store.js';
import type { HistoryStore } from './ports/history-store.js';
import type { CurrentStateStore } from './ports/current-state-store.js';
import type { ReferenceChange } from './domain/reference-data.js';
import { PartitionShard, type CheckpointData, type ShardDeps } from './partition-shard.js';

export interface ShardSupervisorOptions {
  readonly groupId: string;
  readonly checkpointIntervalMs: number;
  /** Above this many unwritten positions, intake pauses until a checkpoint succeeds. */
  readonly maxPendingPositions: number;
}

export interface ShardSupervisorDeps extends ShardDeps {
  readonly bus: PartitionedLog;
  readonly snapshots: SnapshotStore;
  readonly history: HistoryStore;
  readonly currentState: CurrentStateStore | null;
  /** Encodes values for the output topics vehicle.updates and vehicle.events. */
  readonly encodeRecord: (value: unknown) => Uint8Array;
  readonly options: ShardSupervisorOptions;
}

export type CheckpointHealth = 'ok' | 'degraded';

/**
 * Owns this node's partitions of telemetry.raw: restores a partition's actors when it is
 * assigned, feeds batches to its shard, and checkpoints — flush snapshots and history first,
 * then commit the offset they cover, never the other way round.
 */
export class ShardSupervisor {
  private readonly shards = new Map<number, PartitionShard>();
  private consumer: LogConsumer | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private checkpointing: Promise<void> = Promise.resolve();
  private paused = false;
  private checkpointRunning = false;
  private lastFailure: string | null = null;

  constructor(private readonly deps: ShardSupervisorDeps) {}

  async start(): Promise<void> {
    this.consumer = await this.deps.bus.consume({
      groupId: this.deps.options.groupId,
      topic: Topics.telemetryRaw,
      fromBeginning: true,
      onBatch: (b) => this.onBatch(b),
      listener: {
        onAssigned: async (_t, partitions) => {
          for (const p of partitions) await this.acquire(p);
        },
        onRevoked: async (_t, partitions) => {
          for (const p of partitions) await this.release(p);
        },
      },
    });
    // A checkpoint still running when the next is due is not queued behind: the next tick takes
    // everything that became dirty meanwhile in one go.
    this.timer = setInterval(() => {
      if (!this.checkpointRunning) void this.checkpointAll();
    }, this.deps.options.checkpointIntervalMs);
    this.timer.unref();
  }

  get health(): { checkpoints: CheckpointHealth; lastFailure: string | null; partitions: number[] } {
    return { checkpoints: this.lastFailure === null ? 'ok' : 'degraded', lastFailure: this.lastFailure, partitions: [...this.shards.keys()] };
  }

  get actors(): number {
    let n = 0;
    for (const s of this.shards.values()) n += s.size;
    return n;
  }

  /** The telemetry.raw consumer's status; null before start(). */
  get consumerStatus(): ConsumerStatus | null {
    return this.consumer?.status?.() ?? null;
  }

  consumerLag(): Map<number, number> {
    return this.consumer?.lag?.() ?? new Map();
  }

  get mailboxDepth(): number {
    let n = 0;
    for (const s of this.shards.values()) n += s.inFlight;
    return n;
  }

  private async acquire(partition: number): Promise<void> {
    if (this.shards.has(partition)) return;
    const started = performance.now();
    const epoch = await this.deps.snapshots.acquire(partition);
    const acquiredAt = performance.now();
    const shard = new PartitionShard(partition, epoch, this.deps);
    // Page by page: a page's snapshots are garbage once its actors exist, instead of a whole
    // partition's snapshots living (and being copied by the GC) until the last one is read.
    let restored = 0;
    let restoreMs = 0;
    try {
      for await (const page of this.deps.snapshots.loadPages(partition)) {
        const t = performance.now();
        restored += shard.restore(page);
        restoreMs += performance.now() - t;
      }
    } catch (e) {
      shard.close();
      throw e;
    }
    this.shards.set(partition, shard);
    const ms = (t: number) => Math.round(t * 10) / 10;
    const loadMs = performance.now() - acquiredAt - restoreMs;
    this.deps.logger.info({
      partition, epoch, restored, epochMs: ms(acquiredAt - started), loadMs: ms(loadMs), restoreMs: ms(restoreMs),
    }, 'partition acquired');
  }

  private async release(partition: number): Promise<void> {
    const shard = this.shards.get(partition);
    if (!shard) return;
    await this.checkpointing;
    await shard.settled();
    await this.checkpoint(shard);
    shard.close({ keepIndexed: this.stopping });
    this.shards.delete(partition);
    this.deps.logger.info({ partition }, 'partition released');
  }

  private async onBatch(batch: RecordBatch): Promise<void> {
    const shard = this.shards.get(batch.partition);
    if (!shard) throw new Error(`batch for partition ${batch.partition} that this node does not own`);
    await shard.apply(batch.records);
    if (!this.paused && shard.pendingPositions > this.deps.options.maxPendingPositions) {
      this.paused = true;
      this.consumer?.pause();
      this.deps.logger.warn({ partition: shard.partition, pending: shard.pendingPositions }, 'intake paused: history not written yet');
    }
  }

  /** Runs one checkpoint of every partition (also used on shutdown). */
  checkpointAll(): Promise<void> {
    this.checkpointRunning = true;
    this.checkpointing = this.checkpointing.then(async () => {
      let failed = false;
      for (const shard of [...this.shards.values()]) {
        if (!(await this.checkpoint(shard))) failed = true;
      }
      if (!failed) {
        this.lastFailure = null;
        if (this.paused) {
          this.paused = false;
          this.consumer?.resume();
          this.deps.logger.info({}, 'intake resumed');
        }
      }
    }).catch((e: Error) => {
      this.deps.logger.error({ err: e.message }, 'checkpoint round failed');
    }).finally(() => {
      this.checkpointRunning = false;
    });
    return this.checkpointing;
  }

  private async checkpoint(shard: PartitionShard): Promise<boolean> {
    if (!shard.hasPendingCheckpoint) return true;
    const started = performance.now();
    const data = shard.takeCheckpoint();
    const stage = { name: 'history' };
    try {
      await this.write(shard, data, stage);
      if (data.nextOffset > shard.committedOffset) {
        stage.name = 'commit';
        await this.consumer?.commit(shard.partition, data.nextOffset);
        shard.committedOffset = data.nextOffset;
      }
      this.deps.metrics.checkpoint(shard.partition, (performance.now() - started) / 1000, data.snapshots.length);
      return true;
    } catch (e) {
      if (e instanceof FencedWriteError) {
        this.deps.metrics.fencedWrite();
        this.deps.logger.error({ partition: shard.partition, epoch: shard.epoch, current: e.currentEpoch }, 'snapshot write fenced: partition lost to another owner');
        shard.close();
        this.shards.delete(shard.partition);
        return true;
      }
      shard.giveBack(data);
      this.deps.metrics.checkpointFailed(stage.name);
      this.lastFailure = `${stage.name}: ${(e as Error).message}`;
      this.deps.logger.warn({ partition: shard.partition, stage: stage.name, err: (e as Error).message }, 'checkpoint failed; will retry');
      return false;
    }
  }

  private async write(shard: PartitionShard, data: CheckpointData, stage: { name: string }): Promise<void> {
    if (data.positions.length > 0) await this.deps.history.appendPositions(data.positions);
    stage.name = 'events';
    if (data.events.length > 0) await this.deps.history.appendEvents(data.events);
    stage.name = 'snapshots';
    if (data.snapshots.length > 0) await this.deps.snapshots.save(shard.partition, shard.epoch, data.snapshots);
    stage.name = 'current-state';
    if (this.deps.currentState && data.views.length > 0) await this.deps.currentState.write(data.views);
    stage.name = 'outputs';
    const encode = this.deps.encodeRecord;
    if (data.views.length > 0) await this.deps.bus.publish(Topics.vehicleUpdates, data.views.map((v) => ({ key: v.id, value: encode(v) })));
    if (data.events.length > 0) await this.deps.bus.publish(Topics.vehicleEvents, data.events.map((e) => ({ key: e.vehicleId, value: encode(e) })));
  }

  /** Applies a reference-data change to the directory and to the actors it concerns. */
  async applyReference(change: ReferenceChange): Promise<void> {
    const affected = this.deps.directory.apply(change);
    for (const vehicleId of affected) {
      for (const shard of this.shards.values()) {
        if (!shard.has(vehicleId)) continue;
        const profile = this.deps.directory.profile(vehicleId);
        if (profile.company !== null && !this.deps.directory.isActive(profile.company)) shard.retire(vehicleId);
        else await shard.updateProfile(vehicleId, profile);
      }
    }
  }

  /** Stops intake, applies what is in flight, writes a last checkpoint, stops every actor. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // Stopping the consumer revokes every partition (release() below); their vehicles leave
    // the index at the end, all at once: one tree removal each took 13–15 s at 1M vehicles.
    this.stopping = true;
    await this.consumer?.stop();
    for (const shard of this.shards.values()) await shard.settled();
    await this.checkpointAll();
    for (const shard of this.shards.values()) shard.close({ keepIndexed: true });
    this.shards.clear();
    this.deps.index.clear();
  }
}
