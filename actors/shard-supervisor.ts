import type { LogConsumer, PartitionedLog, RecordBatch } from './ports/partitioned-log.js';
import { Topics } from './ports/partitioned-log.js';
import type { ConsumerStatus, GroupMember } from './ports/partitioned-log.js';
import { hasOwnershipLease, loadManyOf, type LeaseWait, type OwnershipLease, type SnapshotStore } from './ports/snapshot-store.js';
import type { HistoryStore } from './ports/history-store.js';
import type { CurrentStateStore } from './ports/current-state-store.js';
import type { ReferenceChange } from './domain/reference-data.js';
import { PartitionShard, type ForwardedPoints, type ShardDeps } from './partition-shard.js';
import { PartitionCheckpointer, type CheckpointOutcome, type SnapshotWhen } from './partition-checkpointer.js';
import { acquireBackoffMs, PartitionNotHeldError, PartitionSlot, type SlotPhase } from './partition-slot.js';

export interface ShardSupervisorOptions {
  readonly groupId: string;
  readonly checkpointIntervalMs: number;
  /** Snapshots (and commits) at most this often while points flow (see CheckpointerDeps); absent: every checkpoint. */
  readonly snapshotIntervalMs?: number;
  /** Above this many unwritten positions, intake pauses until a checkpoint succeeds. */
  readonly maxPendingPositions: number;
  /** This node in a group of several (consistent-hash assignment); absent on a single node. */
  readonly member?: GroupMember;
  /**
   * Every node keeps every vehicle in its index (a FleetReplica follows the other nodes): a
   * partition handed off leaves its vehicles indexed, for its new owner to update.
   */
  readonly replicated?: boolean;
  /** Vehicles idle this long are passivated (default: never); see PartitionShard.passivate. */
  readonly passivateAfterMs?: number;
  /** Most resident vehicles on this node (with an actor or not yet); above it the longest idle are passivated first. */
  readonly maxResidentActors?: number;
}

export interface ShardSupervisorDeps extends ShardDeps {
  readonly bus: PartitionedLog;
  readonly snapshots: SnapshotStore;
  readonly history: HistoryStore;
  readonly currentState: CurrentStateStore | null;
  /** Encodes the values of one publish: the output topics vehicle.updates and vehicle.events, and forwards. */
  readonly encodeRecords: (values: readonly unknown[]) => Uint8Array[];
  readonly options: ShardSupervisorOptions;
}

export type CheckpointHealth = 'ok' | 'degraded';

/** Partitions checkpointed at once in a round (the PostgreSQL pool holds 4 connections). */
const CHECKPOINT_CONCURRENCY = 4;

/**
 * Snapshots restored per turn of the event loop: about 6 ms of work on a quiet machine. 1000 a
 * turn averaged 30–70 ms under a load average of 13–17 (bench:cluster), and the partition's live
 * points and the lookups of the vehicles waiting for their snapshot waited behind each turn.
 */
const RESTORE_SLICE = 250;

/**
 * An owner's lease on its partitions lives this long past its last checkpoint round: long
 * enough for a busy round, short enough that a new owner never waits long for one that died or
 * hangs (the lease bounds that wait; Kafka's session timeout, 30 s, is far longer anyway).
 */
/**
 * Longest a new owner waits for a live previous owner that keeps renewing its lease while it
 * writes its last snapshots (with SNAPSHOT_INTERVAL_MS, up to that much of the partition's
 * changes). A dead owner's lease expires after leaseTtlMs, so only a live writer is waited for
 * this long; past it the new owner takes the epoch and fences the late writer as before.
 */
const HANDOFF_WAIT_CAP_MS = 30_000;

export function leaseTtlMs(checkpointIntervalMs: number): number {
  return Math.max(5_000, 3 * checkpointIntervalMs);
}

/** The supervisor's own phase; each partition has its own (PartitionSlot). */
type SupervisorPhase = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * Owns this node's partitions of telemetry.raw: acquires a partition when it is assigned
 * (retrying with backoff while the stores fail), feeds batches to its shard, checkpoints, hands
 * it off when revoked, and gives it up (re-joining the group) when another owner fenced it.
 */
export class ShardSupervisor {
  private readonly slots = new Map<number, PartitionSlot>();
  private readonly checkpointer: PartitionCheckpointer;
  private consumer: LogConsumer | null = null;
  private timer: NodeJS.Timeout | null = null;
  private phase: SupervisorPhase = 'idle';
  /** Backpressure: intake is paused while history is not written. */
  private intake: 'flowing' | 'paused' = 'flowing';
  private rounds: Promise<void> = Promise.resolve();
  /** First restore attempt of each partition acquired (start() waits for those of the first assignment). */
  private readonly restores = new Map<number, Promise<void>>();
  /** Why a partition's restore failed last (it is being retried). */
  private readonly restoreFailures = new Map<number, string>();
  private roundsQueued = 0;
  /** The snapshot store's ownership leases, when it keeps them (see OwnershipLease). */
  private readonly leases: OwnershipLease | null;
  private readonly leaseTtlMs: number;

  constructor(private readonly deps: ShardSupervisorDeps) {
    const { snapshotIntervalMs } = deps.options;
    this.checkpointer = new PartitionCheckpointer({ ...deps, ...(snapshotIntervalMs !== undefined ? { snapshotIntervalMs } : {}) }, async (partition, next, topic) => { await this.consumer?.commit(partition, next, topic); });
    this.leases = hasOwnershipLease(deps.snapshots) ? deps.snapshots : null;
    this.leaseTtlMs = leaseTtlMs(deps.options.checkpointIntervalMs);
  }

  async start(): Promise<void> {
    this.phase = 'running';
    this.consumer = await this.deps.bus.consume({
      groupId: this.deps.options.groupId,
      topic: Topics.telemetryRaw,
      // Points forwarded to a vehicle's home partition are read by that partition's owner.
      ...(this.deps.vehiclePartition ? { copartitioned: [Topics.telemetryByVehicle] } : {}),
      fromBeginning: true,
      ...(this.deps.options.member ? { member: this.deps.options.member } : {}),
      onBatch: (b) => this.onBatch(b),
      listener: {
        // Side by side: each one waits on its own store round trips (and, for an acquire, on
        // its previous owner's release), not behind the other partitions'.
        onAssigned: async (_t, partitions) => {
          await Promise.all(partitions.map((p) => this.assign(p)));
        },
        onRevoked: async (_t, partitions) => {
          await Promise.all(partitions.map((p) => this.revoke(p)));
        },
      },
    });
    // A node reports itself started once the snapshots of its first partitions are restored.
    await Promise.all(this.restores.values());
    // A round still running when the next is due is not queued behind: the next tick takes
    // everything that became dirty meanwhile in one go.
    this.timer = setInterval(() => {
      if (this.roundsQueued === 0) void this.checkpointAll();
    }, this.deps.options.checkpointIntervalMs);
    this.timer.unref();
  }

  get health(): { checkpoints: CheckpointHealth; lastFailure: string | null; partitions: number[]; unheld: { partition: number; phase: SlotPhase; lastError: string | null }[] } {
    const unheld = [...this.slots.values()].filter((s) => s.phase !== 'active').map((s) => ({ partition: s.partition, phase: s.phase, lastError: s.lastError }));
    const acquireFailure = unheld.find((s) => s.phase === 'retrying-acquire');
    const restoreFailure = [...this.restoreFailures].find(([p]) => this.slots.get(p)?.phase === 'active');
    const lastFailure = acquireFailure ? `acquire partition ${acquireFailure.partition}: ${acquireFailure.lastError}`
      : restoreFailure ? `restore partition ${restoreFailure[0]}: ${restoreFailure[1]}` : this.checkpointer.lastFailure;
    return { checkpoints: lastFailure === null ? 'ok' : 'degraded', lastFailure, partitions: this.held().map((s) => s.partition), unheld };
  }

  /**
   * True while this node's actors hold the partition or are about to (acquiring, handing off):
   * changes of its vehicles come from here, not from another node.
   */
  holds(partition: number): boolean {
    const phase = this.slots.get(partition)?.phase;
    return phase !== undefined && phase !== 'released' && phase !== 'fenced';
  }

  /**
   * Makes the group assign its partitions again (a weight changed, an operator asked): this
   * member hands its partitions off, leaves and re-joins, claiming them back; the others
   * re-join on their next heartbeat.
   */
  async rebalance(): Promise<void> {
    if (this.phase !== 'running' || this.consumer === null) return;
    await this.consumer.rejoin();
  }

  /** Each assigned partition's phase (for tests and health). */
  phases(): Map<number, SlotPhase> {
    return new Map([...this.slots].map(([p, s]) => [p, s.phase]));
  }

  /** Resident vehicles: with a spawned actor or restored without one yet (passivated ones not counted). */
  get actors(): number {
    let n = 0;
    for (const s of this.held()) n += (s.shard as PartitionShard).size;
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
    for (const s of this.held()) n += (s.shard as PartitionShard).inFlight;
    return n;
  }

  private held(): PartitionSlot[] {
    return [...this.slots.values()].filter((s) => s.shard !== null);
  }

  private async assign(partition: number): Promise<void> {
    const existing = this.slots.get(partition);
    if (existing && existing.phase !== 'released') return;
    const slot = new PartitionSlot(partition, (s, from) => this.deps.logger.debug({ partition, from, to: s.phase }, 'partition phase'));
    this.slots.set(partition, slot);
    await slot.serial(() => this.acquire(slot));
  }

  /** One acquire attempt; a failure schedules the next with backoff (its batches wait meanwhile). */
  private async acquire(slot: PartitionSlot): Promise<void> {
    if (slot.phase !== 'acquiring') return;
    const partition = slot.partition;
    let shard: PartitionShard;
    const started = performance.now();
    try {
      shard = await this.open(partition);
    } catch (e) {
      slot.acquireFailed((e as Error).message);
      const delay = acquireBackoffMs(slot.attempts);
      this.deps.logger.error({ partition, attempt: slot.attempts, retryInMs: delay, err: (e as Error).message }, 'partition acquire failed; retrying');
      slot.retryTimer = setTimeout(() => {
        if (slot.phase !== 'retrying-acquire') return;
        slot.retry();
        void slot.serial(() => this.acquire(slot));
      }, delay);
      slot.retryTimer.unref();
      return;
    }
    slot.acquired(shard);
    this.restores.set(partition, this.restoreInBackground(slot, shard, started));
  }

  /**
   * Next in the partition's queue (checkpoints wait behind it) while its batches apply; a failed
   * attempt is retried with backoff in the background. Resolves after the first attempt.
   */
  private restoreInBackground(slot: PartitionSlot, shard: PartitionShard, started: number): Promise<void> {
    const attempt = (n: number): Promise<void> => slot.serial(() => this.restore(slot, shard, started, n)).then((outcome) => {
      if (outcome !== 'failed') {
        this.restoreFailures.delete(slot.partition);
        return;
      }
      setTimeout(() => { void attempt(n + 1); }, acquireBackoffMs(n)).unref();
    });
    return attempt(1);
  }

  /**
   * Takes the partition's epoch (fencing the previous owner: it can write nothing after this)
   * and opens its shard, which applies points before its snapshots are restored (restore()).
   */
  private async open(partition: number): Promise<PartitionShard> {
    const started = performance.now();
    // A live previous owner is writing the partition's last checkpoint now (Kafka told both at
    // once): taking the epoch first would fence that write, and its completeness mark with it.
    const waited: LeaseWait = this.leases ? await this.leases.awaitRelease(partition, Math.max(this.leaseTtlMs, HANDOFF_WAIT_CAP_MS)).catch(() => 'none' as const) : 'none';
    const waitMs = performance.now() - started;
    const epoch = await this.deps.snapshots.acquire(partition);
    await this.holdLease(partition, epoch);
    const snapshots = this.deps.snapshots;
    const positionsAfter = this.deps.history.positionsAfter?.bind(this.deps.history);
    const keptAfter = this.deps.history.keptAfter?.bind(this.deps.history);
    const idleMs = this.deps.options.passivateAfterMs;
    const shard = new PartitionShard(partition, epoch, {
      ...this.deps,
      lastSnapshot: (p, id) => snapshots.loadOne(p, id),
      ...(positionsAfter ? { storedPositions: positionsAfter } : {}),
      ...(keptAfter ? { storedKeptAfter: keptAfter } : {}),
      forward: (list) => this.forward(list),
      ...(idleMs !== undefined ? { passivateAfterMs: idleMs } : {}),
    });
    shard.beginRestore((ids) => loadManyOf(snapshots, partition, ids));
    const ms = (t: number) => Math.round(t * 10) / 10;
    this.deps.logger.info({ partition, epoch, previousOwner: waited, waitMs: ms(waitMs), epochMs: ms(performance.now() - started - waitMs) }, 'partition acquired');
    return shard;
  }

  /**
   * Restores the shard's snapshots page by page while its points already apply: a vehicle with
   * points waits for its own snapshot (PartitionShard.beginRestore). Retried with backoff while
   * the store fails (the partition stays active; its waiting vehicles wait).
   */
  private async restore(slot: PartitionSlot, shard: PartitionShard, started: number, attempt: number): Promise<'restored' | 'failed' | 'gone'> {
    const partition = slot.partition;
    if (slot.shard !== shard || !shard.restoring) return 'gone';
    // Page by page: a page's snapshots are garbage once its actors exist, instead of a whole
    // partition's snapshots living (and being copied by the GC) until the last one is read.
    let restored = 0;
    let restoreMs = 0;
    const loadStarted = performance.now();
    try {
      for await (const page of this.deps.snapshots.loadPages(partition)) {
        for (let i = 0; i < page.length; i += RESTORE_SLICE) {
          if (slot.shard !== shard) return 'gone';
          const t = performance.now();
          restored += shard.restore(page.length <= RESTORE_SLICE ? page : page.slice(i, i + RESTORE_SLICE));
          restoreMs += performance.now() - t;
          // The partition's batches, the lookups of waiting vehicles and the live flushes run in
          // between: a 10k-snapshot page restored in one go held them all for half a second.
          await new Promise((r) => setImmediate(r));
        }
      }
    } catch (e) {
      this.restoreFailures.set(partition, (e as Error).message);
      this.deps.logger.error({ partition, attempt, retryInMs: acquireBackoffMs(attempt), err: (e as Error).message }, 'partition restore failed; retrying (its points apply meanwhile; vehicles whose snapshot is not restored yet wait for it)');
      return 'failed';
    }
    shard.endRestore();
    this.deps.metrics.partitionMoved('acquired', (performance.now() - started) / 1000);
    const ms = (t: number) => Math.round(t * 10) / 10;
    this.deps.logger.info({
      partition, epoch: shard.epoch, restored, totalMs: ms(performance.now() - started), loadMs: ms(performance.now() - loadStarted - restoreMs), restoreMs: ms(restoreMs),
    }, 'partition restored');
    return 'restored';
  }

  /** A lease is a speed-up only (see OwnershipLease): a store that cannot keep it is logged, not fatal. */
  private async holdLease(partition: number, epoch: number): Promise<void> {
    try {
      await this.leases?.holdLease(partition, epoch, this.leaseTtlMs);
    } catch (e) {
      this.deps.logger.warn({ partition, err: (e as Error).message }, 'ownership lease not renewed');
    }
  }

  /** Publishes points to their vehicles' partitions of telemetry.by-vehicle, keyed by vehicle. */
  private async forward(list: readonly ForwardedPoints[]): Promise<void> {
    const values = this.deps.encodeRecords(list.map((f) => f.points));
    await this.deps.bus.publish(Topics.telemetryByVehicle, list.map((f, i) => ({ key: f.vehicleId, partition: f.partition, value: values[i] })));
  }

  /** The partition was taken away: finish its batches, write its last checkpoint, hand it off. */
  private async revoke(partition: number): Promise<void> {
    const slot = this.slots.get(partition);
    if (!slot) return;
    if (slot.phase === 'retrying-acquire') slot.released();
    const started = performance.now();
    await slot.serial(async () => {
      if (slot.phase === 'active') {
        slot.handOff();
        const shard = slot.shard as PartitionShard;
        // The last write may hold SNAPSHOT_INTERVAL_MS of changes: the lease is renewed while it
        // runs, so the next owner keeps waiting for it instead of fencing it.
        await this.holdLease(partition, shard.epoch);
        const renew = this.leases ? setInterval(() => void this.holdLease(partition, shard.epoch), Math.max(250, this.leaseTtlMs / 3)) : null;
        try {
          await shard.settled();
          const outcome = await this.checkpointer.checkpoint(shard, 'now');
          if (outcome === 'snapshotted') {
            await this.deps.snapshots.release?.(partition, shard.epoch).catch((e: Error) => this.deps.logger.warn({ partition, err: e.message }, 'snapshot hand-off failed'));
          }
        } finally {
          if (renew) clearInterval(renew);
        }
        // After the mark: the next owner, waiting for this, takes the mark with its epoch.
        await this.leases?.dropLease(partition).catch((e: Error) => this.deps.logger.warn({ partition, err: e.message }, 'ownership lease not dropped; the next owner waits for it to expire'));
        shard.close({ keepIndexed: this.phase === 'stopping' || this.deps.options.replicated === true });
      }
      if (slot.phase !== 'released') slot.released();
    });
    if (this.slots.get(partition) === slot) this.slots.delete(partition);
    this.restores.delete(partition);
    this.restoreFailures.delete(partition);
    const seconds = (performance.now() - started) / 1000;
    this.deps.metrics.partitionMoved('handed-off', seconds);
    this.deps.logger.info({ partition, handOffMs: Math.round(seconds * 1000) }, 'partition released');
  }

  private async onBatch(batch: RecordBatch): Promise<void> {
    const slot = this.slots.get(batch.partition);
    const shard = slot?.phase === 'active' ? slot.shard : null;
    // Thrown, the batch is delivered again after a backoff: by then the acquire was retried,
    // or the group gave the partition to its new owner.
    if (!shard) throw new PartitionNotHeldError(batch.partition, slot?.phase ?? 'unassigned');
    await shard.apply(batch.records);
    if (this.intake === 'flowing' && shard.pendingPositions > this.deps.options.maxPendingPositions) {
      this.intake = 'paused';
      this.consumer?.pause();
      this.deps.logger.warn({ partition: shard.partition, pending: shard.pendingPositions }, 'intake paused: history not written yet');
    }
  }

  /** Runs one checkpoint of every held partition (also used on shutdown: with snapshots 'now'). */
  checkpointAll(snapshots: SnapshotWhen = 'due'): Promise<void> {
    this.roundsQueued++;
    this.rounds = this.rounds.then(async () => {
      const queue = [...this.slots.values()];
      const checkpoints: Promise<CheckpointOutcome | 'skipped'>[] = [];
      // A few partitions at a time: each checkpoint mostly waits for PostgreSQL, Redis and the
      // acks of its output topics (one at a time, the outputs' produce round trips alone took
      // half of a round). A partition's place is free once its stores are written: its outputs'
      // acks and its commit finish in its own queue while the next partition writes. One
      // partition's checkpoints still never overlap.
      await Promise.all(Array.from({ length: CHECKPOINT_CONCURRENCY }, async () => {
        for (let slot = queue.shift(); slot !== undefined; slot = queue.shift()) {
          if (slot.phase !== 'active') continue;
          const held = slot;
          let storesWritten!: () => void;
          const stored = new Promise<void>((resolve) => { storesWritten = resolve; });
          const done = held.serial(() => this.checkpointHeld(held, snapshots, storesWritten));
          checkpoints.push(done);
          await Promise.race([stored, done]);
        }
      }));
      const failed = (await Promise.all(checkpoints)).includes('failed');
      if (!failed) {
        this.checkpointer.lastFailure = null;
        if (this.intake === 'paused') {
          this.intake = 'flowing';
          this.consumer?.resume();
          this.deps.logger.info({}, 'intake resumed');
        }
      }
    }).catch((e: Error) => {
      this.deps.logger.error({ err: e.message }, 'checkpoint round failed');
    }).finally(() => {
      this.roundsQueued--;
    });
    return this.rounds;
  }

  /** A checkpoint of an active partition (inside its serial queue); a fence gives it up. */
  private async checkpointHeld(slot: PartitionSlot, snapshots: SnapshotWhen, storesWritten?: () => void): Promise<CheckpointOutcome | 'skipped'> {
    if (slot.phase !== 'active' || slot.shard === null) return 'skipped';
    const outcome = await this.checkpointer.checkpoint(slot.shard, snapshots, storesWritten);
    // Renewed by every round that was not fenced (a failing store still holds the partition).
    if (outcome !== 'fenced') await this.holdLease(slot.partition, slot.shard.epoch);
    // Right after a checkpoint with snapshots every vehicle not changed since is in the store.
    if (outcome === 'snapshotted') this.passivate(slot.shard);
    if (outcome === 'fenced') {
      slot.fenced();
      // kafkajs cannot release one partition: leave and re-join the group, so the new owner
      // (or this node again, with a new epoch) gets it. Not awaited: it revokes every partition,
      // this one's queue included.
      if (this.phase === 'running') {
        this.deps.logger.warn({ partition: slot.partition }, 'giving the partition up: re-joining the consumer group');
        this.consumer?.rejoin().catch((e: Error) => this.deps.logger.error({ err: e.message }, 'consumer group re-join failed'));
      }
    }
    return outcome;
  }

  /**
   * Passivates the shard's idle vehicles (a sweep at most every quarter of the idle time, at
   * least every second), and the longest idle ones when the node holds more actors than allowed.
   */
  private passivate(shard: PartitionShard): void {
    const { passivateAfterMs: idleMs, maxResidentActors: cap } = this.deps.options;
    const now = Date.now();
    const total = this.actors;
    if (cap !== undefined && total > cap && shard.size > 0) {
      shard.passivate(Number.POSITIVE_INFINITY, Math.ceil(((total - cap) * shard.size) / total));
    } else if (idleMs !== undefined && now - shard.lastSweep >= Math.max(1000, idleMs / 4)) {
      shard.passivate(now - idleMs);
    }
  }

  /** Applies a reference-data change to the directory and to the actors it concerns. */
  async applyReference(change: ReferenceChange): Promise<void> {
    const affected = this.deps.directory.apply(change);
    for (const vehicleId of affected) {
      for (const slot of this.held()) {
        const shard = slot.shard as PartitionShard;
        if (!shard.has(vehicleId)) continue;
        // Retired vehicles leave the published current state with the partition's next checkpoint.
        if (this.deps.directory.isRetired(vehicleId)) shard.retire(vehicleId);
        else await shard.updateProfile(vehicleId, this.deps.directory.profile(vehicleId));
      }
    }
  }

  /** Stops intake, applies what is in flight, writes a last checkpoint, stops every actor. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // Stopping the consumer revokes every partition (revoke() above); their vehicles leave
    // the index at the end, all at once: one tree removal each took 13–15 s at 1M vehicles.
    this.phase = 'stopping';
    await this.consumer?.stop();
    for (const slot of this.held()) await (slot.shard as PartitionShard).settled();
    await this.checkpointAll('now');
    for (const slot of this.slots.values()) {
      slot.shard?.close({ keepIndexed: true });
      if (slot.phase !== 'released') {
        if (slot.phase === 'active') slot.handOff();
        slot.released();
      }
    }
    this.slots.clear();
    this.deps.index.clear();
    this.phase = 'stopped';
  }
}
