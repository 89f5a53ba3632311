import { Topics, type PartitionedLog } from './ports/partitioned-log.js';
import { FencedWriteError, type SnapshotStore } from './ports/snapshot-store.js';
import type { HistoryStore } from './ports/history-store.js';
import type { CurrentStateStore } from './ports/current-state-store.js';
import type { EngineMetrics } from './ports/engine-metrics.js';
import type { Logger } from './ports/logger.js';
import type { CheckpointData, PartitionShard } from './partition-shard.js';

export interface CheckpointerDeps {
  readonly bus: PartitionedLog;
  readonly snapshots: SnapshotStore;
  readonly history: HistoryStore;
  readonly currentState: CurrentStateStore | null;
  /** Encodes the values of one publish (the records' values, in order). */
  readonly encodeRecords: (values: readonly unknown[]) => Uint8Array[];
  readonly metrics: EngineMetrics;
  readonly logger: Logger;
  /**
   * Snapshots are written (and offsets committed) at most this often while points flow, and at
   * every checkpoint of a quiet partition (PartitionShard.snapshotDue). Absent: every checkpoint.
   */
  readonly snapshotIntervalMs?: number;
}

/**
 * snapshotted: everything is stored, snapshots too, and the offsets committed; written: the
 * history, current state and outputs are stored, the snapshots and the commit wait for their
 * cadence; failed: given back, retried later; fenced: another owner took the partition.
 */
export type CheckpointOutcome = 'snapshotted' | 'written' | 'failed' | 'fenced';

/** Whether a checkpoint writes snapshots: 'due' by the shard's cadence, or 'now' (hand-off, shutdown). */
export type SnapshotWhen = 'due' | 'now';

/**
 * Writes one partition's checkpoint: history, and on their cadence snapshots, first; then, when
 * the checkpoint wrote snapshots, the offset they cover — never the other way round: a crash
 * restores the last snapshots and replays from the last commit, so every commit must be covered
 * by snapshots (docs/storage.md, "Checkpoints and snapshots"). The caller serialises checkpoints
 * of one partition.
 */
export class PartitionCheckpointer {
  lastFailure: string | null = null;

  constructor(private readonly deps: CheckpointerDeps, private readonly commit: (partition: number, nextOffset: number, topic: string) => Promise<void>) {}

  /**
   * @param storesWritten called once the stores are written, when only the outputs' acks (and the
   *   commit) are left: the caller may start another partition's checkpoint meanwhile.
   */
  async checkpoint(shard: PartitionShard, snapshots: SnapshotWhen = 'due', storesWritten?: () => void): Promise<CheckpointOutcome> {
    if (!shard.hasPendingCheckpoint) return 'snapshotted';
    const started = performance.now();
    const interval = this.deps.snapshotIntervalMs;
    const now = Date.now();
    const data = shard.takeCheckpoint(snapshots === 'now' || interval === undefined || shard.snapshotDue(now, interval));
    const stage = { name: 'history' };
    try {
      await this.write(shard, data, stage, storesWritten);
      if (!data.withSnapshots) {
        this.deps.metrics.checkpoint(shard.partition, (performance.now() - started) / 1000, 0);
        return 'written';
      }
      const commitStarted = performance.now();
      let committed = false;
      if (data.nextOffset > shard.committedOffset) {
        stage.name = 'commit';
        await this.commit(shard.partition, data.nextOffset, Topics.telemetryRaw);
        shard.committedOffset = data.nextOffset;
        committed = true;
      }
      if (data.forwardedNextOffset > shard.forwardedCommittedOffset) {
        stage.name = 'commit';
        await this.commit(shard.partition, data.forwardedNextOffset, Topics.telemetryByVehicle);
        shard.forwardedCommittedOffset = data.forwardedNextOffset;
        committed = true;
      }
      if (committed) this.deps.metrics.checkpointStage('commit', (performance.now() - commitStarted) / 1000);
      shard.lastSnapshotAt = now;
      this.deps.metrics.checkpoint(shard.partition, (performance.now() - started) / 1000, data.snapshots.length);
      return 'snapshotted';
    } catch (e) {
      if (e instanceof FencedWriteError) {
        this.deps.metrics.fencedWrite();
        this.deps.logger.error({ partition: shard.partition, epoch: shard.epoch, current: e.currentEpoch }, 'snapshot write fenced: partition lost to another owner');
        return 'fenced';
      }
      shard.giveBack(data);
      if (e instanceof OutputsFailed) stage.name = 'outputs';
      this.deps.metrics.checkpointFailed(stage.name);
      this.lastFailure = `${stage.name}: ${(e as Error).message}`;
      this.deps.logger.warn({ partition: shard.partition, stage: stage.name, err: (e as Error).message }, 'checkpoint failed; will retry');
      return 'failed';
    }
  }

  private async write(shard: PartitionShard, data: CheckpointData, stage: { name: string }, storesWritten?: () => void): Promise<void> {
    const { history, snapshots, currentState } = this.deps;
    const step = async (name: string, work: () => Promise<unknown>): Promise<void> => {
      stage.name = name;
      const started = performance.now();
      await work();
      this.deps.metrics.checkpointStage(name, (performance.now() - started) / 1000);
    };
    // The outputs leave first and travel while the stores are written: waiting for their acks
    // after everything else made every checkpoint pay the brokers' round trips on top.
    const outputs = this.publishOutputs(data);
    // Handled from now on: Kafka may fail before the stores are written, and the failure is
    // dealt with where `outputs` is awaited below (without this, Node reports an unhandled
    // rejection meanwhile).
    outputs.catch(() => undefined);
    try {
      if (data.positions.length > 0) await step('positions', () => history.appendPositions(data.positions));
      if (data.events.length > 0) await step('events', () => history.appendEvents(data.events));
      if (data.segments.length > 0) await step('segments', () => history.upsertSegments(data.segments));
      if (data.repairs.length > 0) await step('segments', async () => history.repairSegments?.(data.repairs));
      if (data.withSnapshots && data.snapshots.length > 0) await step('snapshots', () => snapshots.save(shard.partition, shard.epoch, data.snapshots));
      // Removals first: a vehicle retired and seen again within one checkpoint ends up written.
      if (currentState && data.retired.length > 0) await step('current-state', () => currentState.remove(data.retired));
      if (currentState && data.views.length > 0) await step('current-state', () => currentState.write(data.views));
    } catch (e) {
      // Not left running: the partition's next checkpoint must not start before they are acked
      // or failed (one partition's records leave in checkpoint order).
      await outputs.catch(() => undefined);
      throw e;
    }
    storesWritten?.();
    // Awaited before the checkpoint ends, so before any commit: a committed offset's outputs are
    // acknowledged (at least once, as before).
    await step('outputs-wait', () => outputs);
  }

  /** Both output topics, published at once (the log may send them in one request); resolves when acked. */
  private async publishOutputs(data: CheckpointData): Promise<void> {
    const { bus, encodeRecords: encode } = this.deps;
    const started = performance.now();
    const sends: Promise<void>[] = [];
    if (data.views.length > 0) {
      const values = encode(data.views);
      sends.push(bus.publish(Topics.vehicleUpdates, data.views.map((v, i) => ({ key: v.id, value: values[i] }))));
    }
    if (data.events.length > 0) {
      const values = encode(data.events);
      sends.push(bus.publish(Topics.vehicleEvents, data.events.map((e, i) => ({ key: e.vehicleId, value: values[i] }))));
    }
    if (sends.length === 0) return;
    try {
      await Promise.all(sends);
    } catch (e) {
      // Both settle before this one does: a checkpoint that failed leaves nothing in flight.
      await Promise.allSettled(sends);
      throw new OutputsFailed(e as Error);
    }
    this.deps.metrics.checkpointStage('outputs', (performance.now() - started) / 1000);
  }
}

/** The output topics' publish failed (the stage of the checkpoint that failed is `outputs`). */
class OutputsFailed extends Error {
  readonly code = 'OUTPUTS_FAILED';
  constructor(cause: Error) {
    super(cause.message, { cause });
    this.name = 'OutputsFailed';
  }
}
