import { spawnStateless, stop, dispatch, type Ref } from 'nact';
import { Topics, type LogRecord } from './ports/partitioned-log.js';
import type { EngineMetrics } from './ports/engine-metrics.js';
import type { StateIndex } from './ports/state-index.js';
import type { Logger } from './ports/logger.js';
import type { TelemetryPoint } from './domain/telemetry-point.js';
import { decodePoints } from './record-points.js';
import type { VehicleDelta, VehicleSnapshot, VehicleView } from './domain/vehicle-state.js';
import type { VehicleEvent } from './domain/vehicle-event.js';
import type { TripSegment } from './domain/trip-segment.js';
import type { DeliveryHub } from './delivery-hub.js';
import type { LiveOutbox } from './live-updates.js';
import type { FleetDirectory, Route } from './fleet-directory.js';
import { spawnVehicle, VehicleBehaviour, type Completion, type VehicleLogic, type VehicleMsg, type VehicleOutbox } from './vehicle-actor.js';
import { fromSnapshot, newVehicleState, offlineDue, snapshotOfflineDue, type VehicleProfile, type VehicleState } from './vehicle-logic.js';
import { VehicleRecovery } from './vehicle-recovery.js';
import { PendingChanges, type CheckpointData } from './pending-changes.js';
import type { SegmentRepair } from './segment-repair.js';
import { UNBOUND_VEHICLE_PREFIX, unboundVehicleId } from './domain/reference-data.js';
import type { PointRejection } from './domain/point-filters.js';
import { LivenessWheel } from './liveness-wheel.js';
import { StreamingRestore } from './streaming-restore.js';

export type { CheckpointData };

export interface ShardDeps {
  readonly system: Ref<unknown>;
  readonly directory: FleetDirectory;
  readonly index: StateIndex;
  readonly hub: DeliveryHub;
  readonly metrics: EngineMetrics;
  readonly logger: Logger;
  readonly decodeRecord: (bytes: Uint8Array) => unknown;
  /** The last snapshot written of a vehicle (a crashed actor is restored from it); none: reset. */
  readonly lastSnapshot?: (partition: number, vehicleId: string) => Promise<VehicleSnapshot | undefined>;
  /**
   * A vehicle's stored positions stamped after `afterTs`, oldest first, the newest `limit` at
   * most (HistoryStore.positionsAfter): a crashed actor replays them over its snapshot.
   */
  readonly storedPositions?: (vehicleId: string, afterTs: number, limit: number) => Promise<readonly TelemetryPoint[]>;
  /** Every stored position stamped after this is still kept (HistoryStore.keptAfter); absent: all are. */
  readonly storedKeptAfter?: () => number;
  /** Replaces the vehicle logic (tests make it throw). */
  readonly vehicleLogic?: VehicleLogic;
  /** In a cluster: where every change goes for the nodes that do not own this partition. */
  readonly live?: LiveOutbox;
  /**
   * Vehicles idle this long are passivated (snapshot stored, actor stopped) and restored from
   * the snapshot store on their next point; a restore leaves such vehicles passivated. Absent: never.
   */
  readonly passivateAfterMs?: number;
  /**
   * The partition a vehicle's actor lives in (its home). Points read from another partition are
   * forwarded there with `forward`. Absent: every vehicle lives where its records arrive.
   */
  readonly vehiclePartition?: (vehicleId: string) => number;
  /** Publishes points to their vehicle's partition of telemetry.by-vehicle (resolves once stored). */
  readonly forward?: (points: readonly ForwardedPoints[]) => Promise<void>;
}

/** Points of one vehicle on their way to the vehicle's home partition. */
export interface ForwardedPoints {
  readonly vehicleId: string;
  readonly partition: number;
  readonly points: readonly TelemetryPoint[];
}

/** Where a batch's records come from: telemetry.raw (by device) or telemetry.by-vehicle. */
type Source = 'raw' | 'forwarded';

/** One batch's points for other partitions, on their way to telemetry.by-vehicle. */
interface ForwardJob {
  readonly list: readonly ForwardedPoints[];
  readonly count: number;
  readonly batch: PendingBatch;
  /** waiting: held behind a failed one; sent: published, not acknowledged yet. */
  state: 'waiting' | 'sent' | 'failed' | 'done';
  /** The publish in flight (never rejects), null before the first. */
  sending: Promise<void> | null;
  error?: string;
}

type RouteRefusalOf<R extends string> = { readonly ok: false; readonly reason: R };
type ForwardedRoute = Route | RouteRefusalOf<'RETIRED_VEHICLE' | 'ACTOR_UNAVAILABLE'>;

/** The completion of a status check run without an actor (nothing waits for it). */
const NO_COMPLETION: Completion = { done: () => {} };

/** Messages queued at this shard's actors above which apply() waits. */
const MAX_IN_FLIGHT = 50_000;

class PendingBatch implements Completion {
  constructor(readonly source: Source, readonly nextOffset: number, public outstanding: number, private readonly shard: PartitionShard) {}

  done(): void {
    this.shard.batchPartDone(this);
  }
}

interface Resident {
  /**
   * The vehicle's actor, spawned with its first message (send()): a restored vehicle is its
   * state until then. A nact actor costs about 1.2 KB of heap and 3 µs to spawn, which a node
   * restoring a million vehicles paid for each before the first of them had a point to handle.
   */
  ref: Ref<VehicleMsg> | null;
  readonly state: VehicleState;
  /** The shard's dispatch counter at this actor's last message (passivation checks it). */
  seq: number;
  /** When its last points arrived (ms). */
  lastActive: number;
}

/**
 * The vehicles of one partition of telemetry.raw on this node: their actors (children of one
 * nact parent that never handles per-point messages), what changed since the last checkpoint,
 * and the offset up to which every record has been applied.
 */
export class PartitionShard implements VehicleOutbox {
  readonly parent: Ref<unknown>;
  private readonly residents = new Map<string, Resident>();
  private readonly pending = new PendingChanges();
  /** Next offset of telemetry.raw to read: every record below it has been applied (or forwarded). */
  appliedOffset = -1;
  committedOffset = -1;
  /** The same for this partition of telemetry.by-vehicle. */
  forwardedAppliedOffset = -1;
  forwardedCommittedOffset = -1;
  inFlight = 0;
  private readonly batches: Record<Source, PendingBatch[]> = { raw: [], forwarded: [] };
  /** Forwards not stored yet, in the order they were made (see forward()). */
  private readonly forwards: ForwardJob[] = [];
  /** A forward failed: new ones wait until every earlier one is stored (resendForwards). */
  private forwardsHeld = false;
  private drained: (() => void)[] = [];
  /** Actor names come from this counter: vehicle ids may hold characters nact refuses in a name. */
  private spawned = 0;
  private dispatched = 0;
  /** Vehicles of this partition whose actor was stopped while idle: their next point restores them. */
  private readonly passivated = new Set<string>();
  /** When passivate() last looked at every resident. */
  lastSweep = 0;
  /** When a checkpoint with snapshots last succeeded (ms; 0: never). */
  lastSnapshotAt = 0;
  /** The applied offsets the last checkpoint took (snapshotDue tells a quiet partition by them). */
  private checkpointedOffsets: readonly [number, number] = [-1, -1];
  private closed = false;
  private readonly behaviour: VehicleBehaviour;
  /** Online vehicles' offline checks: one wheel and one timer per shard, not a timer per actor. */
  private readonly liveness = new LivenessWheel();
  private readonly livenessTimer: NodeJS.Timeout;
  /** Set while points apply before every snapshot was restored (beginRestore … endRestore). */
  private streaming: StreamingRestore | null = null;
  /** Puts crashed actors back; checkpoints write no snapshots (so commit nothing) meanwhile. */
  private readonly recovery: VehicleRecovery;

  constructor(readonly partition: number, readonly epoch: number, private readonly deps: ShardDeps) {
    this.parent = spawnStateless(deps.system, () => {}, `partition-${partition}-${epoch}`);
    this.behaviour = new VehicleBehaviour(this, deps.vehicleLogic);
    this.recovery = new VehicleRecovery({
      partition,
      residentState: (vehicleId) => this.residents.get(vehicleId)?.state,
      isClosed: () => this.closed,
      events: (events) => this.events(events), segments: (segments) => this.segments(segments), watch: (state, dueAt) => this.watch(state, dueAt),
    }, this.pending, deps);
    this.livenessTimer = setInterval(() => this.checkLiveness(Date.now()), 1000);
    this.livenessTimer.unref();
  }

  /**
   * Sends the vehicles due on the wheel their status check. A passivated one is brought back
   * for it (once per vehicle going offline): its actor holds the status.
   */
  checkLiveness(now: number): void {
    if (this.closed) return;
    for (const id of this.liveness.due(now)) {
      let r = this.residents.get(id);
      if (r === undefined && this.passivated.has(id)) {
        try {
          // The device id comes back with the restored state (no snapshot: no view, nothing to check).
          r = this.resident(id, this.deps.directory.profile(id), '');
        } catch {
          continue;
        }
      }
      if (r === undefined) continue;
      this.statusCheck(r, now);
    }
  }

  /**
   * A vehicle's status check. One without an actor yet (restored, no message since) has nothing
   * queued: its check runs on its state here rather than spawning an actor for it. If that throws,
   * the vehicle is recovered as a crashed actor is, as the first message of an actor spawned for
   * it (its next messages wait for the recovery in its mailbox).
   */
  private statusCheck(r: Resident, now: number): void {
    const id = r.state.vehicleId;
    const done = (): Completion => ({ done: () => { this.inFlight--; } });
    if (r.ref === null) {
      try {
        this.behaviour.handle(r.state, { kind: 'status', vehicleId: id, now, completion: NO_COMPLETION });
        return;
      } catch (e) {
        this.inFlight++;
        this.send(r, { kind: 'restore', vehicleId: id, load: () => this.crashed(id, e).then(() => null), completion: done() });
        return;
      }
    }
    this.inFlight++;
    this.send(r, { kind: 'status', vehicleId: id, now, completion: done() });
  }

  get size(): number {
    return this.residents.size;
  }

  get pendingPositions(): number {
    return this.pending.positions.length;
  }

  /**
   * Points apply from now on although the snapshots are still being restored (restore() page by
   * page, then endRestore()): a vehicle whose points come first waits for its snapshot.
   */
  beginRestore(loadMany?: (vehicleIds: readonly string[]) => Promise<readonly VehicleSnapshot[]>): void {
    this.streaming = new StreamingRestore(loadMany ? { loadMany } : {});
  }

  /** Every page was restored: vehicles still waiting for a snapshot have none. */
  endRestore(): void {
    this.streaming?.finish();
    this.streaming = null;
  }

  get restoring(): boolean {
    return this.streaming !== null;
  }

  restore(snapshots: readonly VehicleSnapshot[]): number {
    if (this.closed) return 0;
    const views: VehicleView[] = [];
    let skipped = 0;
    for (const snap of snapshots) {
      // One snapshot that cannot become an actor must not keep the partition from being acquired.
      try {
        const resident = this.residents.has(snap.vehicleId);
        if (resident && this.streaming === null) continue;
        // Stored before its vehicle's home moved (another partition count, an older version).
        if (this.homeOf(snap.vehicleId) !== this.partition) {
          skipped++;
          continue;
        }
        const route = this.deps.directory.route(snap.deviceId);
        // A snapshot whose vehicle is not the one its device routes to now is stale identity (an
        // unbound device that once used a bound vehicle's id, a device bound elsewhere since).
        const current = route.ok && route.profile.vehicleId === snap.vehicleId;
        if (resident) {
          // Its points came first: its actor waits for this snapshot.
          this.streaming?.arrived(snap.vehicleId, current ? snap : undefined);
          continue;
        }
        if (!route.ok || !current) {
          skipped++;
          continue;
        }
        const idleMs = this.deps.passivateAfterMs;
        // Events the reorder window still held when the snapshot was written go out from an actor's status timer.
        const holds = (snap.heldEvents?.length ?? 0) > 0;
        if (idleMs !== undefined && !holds && snap.view.ts < Date.now() - idleMs) {
          // Idle already: on the map, but no actor until its next point (or its offline check).
          this.passivated.add(snap.vehicleId);
          this.deps.directory.forget([snap.vehicleId]);
          const due = snapshotOfflineDue(snap, route.profile);
          if (due !== null) this.liveness.schedule(snap.vehicleId, due);
          views.push(snap.view);
          continue;
        }
        const state = fromSnapshot(snap, route.profile);
        this.residents.set(state.vehicleId, { ref: null, state, seq: 0, lastActive: Date.now() });
        if (holds) this.liveness.schedule(state.vehicleId, Date.now());
        // Restored online: no receipt will change its status, so its offline check is booked now.
        const due = offlineDue(state);
        if (due !== null) this.liveness.schedule(state.vehicleId, due);
        if (state.view) views.push(state.view);
      } catch (e) {
        this.deps.logger.error({ partition: this.partition, vehicleId: snap?.vehicleId, err: (e as Error).message }, 'snapshot skipped: it cannot be restored (the vehicle starts afresh with its next point)');
      }
    }
    this.deps.index.upsertMany(views);
    if (skipped > 0) this.deps.logger.warn({ partition: this.partition, skipped }, 'snapshots not restored: their device is unknown now, beyond the unbound pool, or routed to another vehicle, or their vehicle lives in another partition');
    return views.length;
  }

  /**
   * Dispatches a batch (of telemetry.raw or of telemetry.by-vehicle) to its vehicle actors
   * without waiting for them (batches pipeline); points of vehicles that live in another
   * partition are forwarded there. The applied offset advances as both finish. Resolves early
   * unless too much is in flight.
   */
  async apply(records: readonly LogRecord[]): Promise<void> {
    if (records.length === 0) return;
    const source: Source = records[0].topic === Topics.telemetryByVehicle ? 'forwarded' : 'raw';
    const byVehicle = new Map<string, { profile: VehicleProfile; deviceId: string; points: TelemetryPoint[] }>();
    const forwards = new Map<string, { partition: number; points: TelemetryPoint[] }>();
    let receivedAt = 0;
    const now = Date.now();
    for (const r of records) {
      receivedAt = Math.max(receivedAt, r.timestamp);
      for (const point of decodePoints(r, now, this.deps)) {
        const target = source === 'raw' ? this.rawTarget(r, point) : this.forwardedRoute(r, point);
        if (!target.ok) {
          this.deps.metrics.pointRejected(target.reason, 'log');
          continue;
        }
        if (!('profile' in target)) {
          let f = forwards.get(target.vehicleId);
          if (!f) forwards.set(target.vehicleId, (f = { partition: target.home, points: [] }));
          f.points.push(point);
          continue;
        }
        const id = target.profile.vehicleId;
        let slot = byVehicle.get(id);
        if (!slot) byVehicle.set(id, (slot = { profile: target.profile, deviceId: point.deviceId, points: [] }));
        slot.points.push(point);
      }
    }
    const batch = new PendingBatch(source, records[records.length - 1].offset + 1, byVehicle.size + (forwards.size > 0 ? 1 : 0), this);
    this.batches[source].push(batch);
    if (forwards.size > 0) this.forward(forwards, batch);
    for (const [id, slot] of byVehicle) {
      // No single record may stop the partition: one its actor cannot take is rejected and skipped.
      let r: Resident;
      try {
        r = this.resident(id, slot.profile, slot.deviceId);
      } catch (e) {
        batch.outstanding--;
        this.deps.metrics.pointRejected('ACTOR_UNAVAILABLE', 'log');
        this.deps.logger.error({ partition: this.partition, vehicleId: id, deviceId: slot.deviceId, points: slot.points.length, err: (e as Error).message }, 'points skipped: no actor for their vehicle');
        continue;
      }
      this.inFlight++;
      r.seq = ++this.dispatched;
      r.lastActive = now;
      this.send(r, { kind: 'points', vehicleId: id, points: slot.points, receivedAt, completion: batch });
    }
    this.advance();
    // Backpressure: the caller's next batch waits while too many messages are queued at actors.
    if (this.inFlight > MAX_IN_FLIGHT) await new Promise<void>((resolve) => this.drained.push(resolve));
  }

  /**
   * Where a point of telemetry.raw goes: its vehicle's actor here (the route), or the vehicle's
   * home partition. An unbound device that lives elsewhere is not admitted to this node's pool.
   */
  private rawTarget(r: LogRecord, point: TelemetryPoint): Route | RouteRefusalOf<'ACTOR_UNAVAILABLE'> | { readonly ok: true; readonly vehicleId: string; readonly home: number } {
    const directory = this.deps.directory;
    if (this.deps.vehiclePartition !== undefined && !directory.isBound(point.deviceId)) {
      if (!directory.acceptsUnbound) return { ok: false, reason: 'UNKNOWN_DEVICE' };
      const vehicleId = unboundVehicleId(point.deviceId);
      const home = this.homeOf(vehicleId);
      if (home !== this.partition) return { ok: true, vehicleId, home };
    }
    const route = this.route(r, point);
    if (!route.ok) return route;
    const home = this.homeOf(route.profile.vehicleId);
    return home === this.partition ? route : { ok: true, vehicleId: route.profile.vehicleId, home };
  }

  /** The partition a vehicle's actor lives in. */
  private homeOf(vehicleId: string): number {
    return this.deps.vehiclePartition?.(vehicleId) ?? this.partition;
  }

  /**
   * Sends points on to their vehicles' partitions without waiting for the forwards before it to
   * be acknowledged (the log keeps the order of publishes, one produce request at a time); the
   * batch is applied once they are stored. A forward that fails stops the pipeline: the ones
   * after it fail too or wait (the log refuses what was queued behind a failed request), and
   * every forward not yet stored is sent again, in order, until the log takes them: a device's
   * points reach their vehicle's partition in order.
   */
  private forward(forwards: Map<string, { partition: number; points: TelemetryPoint[] }>, batch: PendingBatch): void {
    const list: ForwardedPoints[] = [...forwards].map(([vehicleId, f]) => ({ vehicleId, partition: f.partition, points: f.points }));
    const job: ForwardJob = { list, count: list.reduce((n, f) => n + f.points.length, 0), batch, state: 'waiting', sending: null };
    this.inFlight++;
    this.forwards.push(job);
    if (!this.forwardsHeld) this.sendForward(job);
  }

  private sendForward(job: ForwardJob): void {
    const send = this.deps.forward;
    job.state = 'sent';
    job.sending = (send === undefined ? Promise.reject(new Error('no forwarding configured')) : send(job.list)).then(
      () => this.forwardDone(job),
      (e: unknown) => {
        job.state = 'failed';
        job.error = (e as Error)?.message ?? String(e);
        if (this.closed && !this.forwardsHeld) {
          this.forwardDone(job);
          return;
        }
        if (!this.forwardsHeld) {
          // Later forwards already published fail too (the log refuses them); new ones wait.
          this.forwardsHeld = true;
          void this.resendForwards();
        }
      },
    );
  }

  private forwardDone(job: ForwardJob): void {
    if (job.state === 'done') return;
    if (job.state !== 'failed') this.deps.metrics.pointsForwarded(job.count);
    job.state = 'done';
    while (this.forwards.length > 0 && this.forwards[0].state === 'done') this.forwards.shift();
    this.batchPartDone(job.batch);
  }

  /**
   * After a failed forward: waits for the ones in flight, then sends every one not stored yet
   * again, in order, after a backoff, until none fails; then the pipeline runs again.
   */
  private async resendForwards(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await Promise.all(this.forwards.map((j) => j.sending));
      const left = this.forwards.filter((j) => j.state !== 'done');
      if (this.closed) {
        for (const j of left) this.forwardDone(j);
        return;
      }
      const failed = left.find((j) => j.state === 'failed');
      if (failed === undefined) {
        this.forwardsHeld = false;
        for (const j of left) this.sendForward(j);
        return;
      }
      const retryInMs = Math.min(10_000, 200 * 2 ** Math.min(attempt, 6));
      const points = left.reduce((n, j) => n + j.count, 0);
      this.deps.logger.warn({ partition: this.partition, points, forwards: left.length, attempt: attempt + 1, retryInMs, err: failed.error }, 'forwarding points to their vehicles\' partitions failed; retrying');
      await new Promise((r) => setTimeout(r, retryInMs));
      if (this.closed) continue;
      for (const j of this.forwards) if (j.state !== 'done') this.sendForward(j);
    }
  }

  /**
   * A point of telemetry.by-vehicle: the forwarding node chose its vehicle (the record's key)
   * once; here only whether the vehicle is still served is checked.
   */
  private forwardedRoute(r: LogRecord, point: TelemetryPoint): ForwardedRoute {
    const vehicleId = r.key;
    if (vehicleId === null) return { ok: false, reason: 'ACTOR_UNAVAILABLE' };
    const directory = this.deps.directory;
    if (directory.isRetired(vehicleId)) return { ok: false, reason: 'RETIRED_VEHICLE' };
    // An unbound device's vehicle takes its place in this node's pool.
    if (vehicleId.startsWith(UNBOUND_VEHICLE_PREFIX)) return this.route(r, point);
    return { ok: true, profile: directory.profile(vehicleId) };
  }

  /** A vehicle actor finished its part of a batch. */
  batchPartDone(batch: PendingBatch): void {
    this.inFlight--;
    batch.outstanding--;
    this.advance();
    if (this.inFlight <= MAX_IN_FLIGHT / 2 && this.drained.length > 0) {
      const waiters = this.drained;
      this.drained = [];
      for (const w of waiters) w();
    }
  }

  /** appliedOffset moves past a batch only when it and every batch before it are fully applied. */
  private advance(): void {
    const raw = this.batches.raw;
    while (raw.length > 0 && raw[0].outstanding === 0) this.appliedOffset = (raw.shift() as PendingBatch).nextOffset;
    const forwarded = this.batches.forwarded;
    while (forwarded.length > 0 && forwarded[0].outstanding === 0) this.forwardedAppliedOffset = (forwarded.shift() as PendingBatch).nextOffset;
  }

  /** Resolves once every batch handed to apply() so far is applied. */
  async settled(): Promise<void> {
    while (this.inFlight > 0) await new Promise((r) => setImmediate(r));
  }

  private route(r: LogRecord, point: TelemetryPoint): Route | RouteRefusalOf<'ACTOR_UNAVAILABLE'> {
    try {
      return this.deps.directory.route(point.deviceId);
    } catch (e) {
      this.deps.logger.error({ partition: r.partition, offset: r.offset, deviceId: point.deviceId, err: (e as Error).message }, 'point skipped: routing failed');
      return { ok: false, reason: 'ACTOR_UNAVAILABLE' };
    }
  }

  private resident(vehicleId: string, profile: VehicleProfile, deviceId: string): Resident {
    let r = this.residents.get(vehicleId);
    if (r === undefined) {
      const state = newVehicleState(profile, deviceId, this.partition);
      r = { ref: null, state, seq: 0, lastActive: Date.now() };
      this.residents.set(vehicleId, r);
      if (this.passivated.delete(vehicleId)) {
        // Before its points: the actor's first message puts its state back from the store.
        this.deps.metrics.actorsReactivated(1);
        this.inFlight++;
        this.send(r, { kind: 'restore', vehicleId, load: () => this.storedState(vehicleId, profile, state), completion: { done: () => { this.inFlight--; } } });
      } else if (this.streaming !== null) {
        // Waiting from now on (not from when the actor reads the message): its page may come first.
        const snapshot = this.streaming.snapshotOf(vehicleId);
        this.inFlight++;
        this.send(r, { kind: 'restore', vehicleId, load: () => snapshot.then((snap) => this.restorable(snap, profile)), completion: { done: () => { this.inFlight--; } } });
      }
    }
    return r;
  }

  /** A looked-up snapshot as the vehicle's state, unless it is stale identity (see restore()). */
  private restorable(snap: VehicleSnapshot | undefined, profile: VehicleProfile): VehicleState | null {
    if (snap === undefined) return null;
    try {
      const route = this.deps.directory.route(snap.deviceId);
      if (route.ok && route.profile.vehicleId === snap.vehicleId) return fromSnapshot(snap, profile);
    } catch (e) {
      this.deps.logger.error({ partition: this.partition, vehicleId: snap.vehicleId, err: (e as Error).message }, 'snapshot skipped: it cannot be restored (the vehicle starts afresh with its next point)');
    }
    return null;
  }

  /**
   * A passivated vehicle's state from the snapshot store. Retried while the store fails (its
   * points wait in its mailbox; other vehicles go on); after that it starts afresh, logged.
   */
  private async storedState(vehicleId: string, profile: VehicleProfile, fresh: VehicleState): Promise<VehicleState | null> {
    let snap: VehicleSnapshot | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        snap = await this.deps.lastSnapshot?.(this.partition, vehicleId);
        break;
      } catch (e) {
        if (attempt >= 5) {
          // The stored snapshot may be good: the fresh state must not be written over it.
          this.pending.keepOut(fresh);
          this.deps.logger.error({ partition: this.partition, vehicleId, err: (e as Error).message }, 'passivated vehicle not restored: the snapshot store failed; it starts afresh, its snapshot not written over');
          return null;
        }
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      }
    }
    if (snap === undefined) return null;
    try {
      return fromSnapshot(snap, profile);
    } catch (e) {
      this.deps.logger.error({ partition: this.partition, vehicleId, err: (e as Error).message }, 'passivated vehicle not restored: its snapshot cannot be restored; it starts afresh');
      return null;
    }
  }

  /**
   * Stops the actors of vehicles whose last points arrived before `idleBefore`, the longest idle
   * first, at most `max`. Only right after a checkpoint that wrote snapshots: a vehicle not
   * changed since then has its newest state in the store; one that received anything since the barrier was sent,
   * or changed, stays. Its view stays on the map.
   */
  passivate(idleBefore: number, max = Number.POSITIVE_INFINITY): number {
    this.lastSweep = Date.now();
    const idle: Resident[] = [];
    for (const r of this.residents.values()) if (r.lastActive < idleBefore && !this.pending.unsnapshotted.has(r.state)) idle.push(r);
    if (idle.length > max) {
      idle.sort((a, b) => a.lastActive - b.lastActive);
      idle.length = Math.max(0, Math.floor(max));
    }
    for (const r of idle) {
      const seq = r.seq;
      const id = r.state.vehicleId;
      this.afterQueued(r, () => {
        if (this.closed || this.residents.get(id) !== r || r.seq !== seq || this.pending.unsnapshotted.has(r.state)) return;
        this.residents.delete(id);
        // Its restore reads the snapshot again: a hold on writing it (keepOut) ends here.
        this.pending.forget(r.state);
        this.passivated.add(id);
        this.deps.directory.forget([id]);
        this.deps.metrics.actorsPassivated(1);
        setImmediate(() => this.stopActor(r));
      });
    }
    return idle.length;
  }

  /** Hands a message to the vehicle's actor, spawning it with its first message. */
  private send(r: Resident, msg: VehicleMsg): void {
    r.ref ??= spawnVehicle(this.parent, `v${++this.spawned}`, r.state, this.behaviour);
    dispatch(r.ref, msg);
  }

  private stopActor(r: Resident): void {
    if (r.ref !== null) stop(r.ref);
  }

  private isResident(state: VehicleState): boolean {
    return this.residents.get(state.vehicleId)?.state === state;
  }

  /** Whether the vehicle lives in this shard: with an actor, or passivated. */
  has(vehicleId: string): boolean {
    return this.residents.has(vehicleId) || this.passivated.has(vehicleId);
  }

  /** New reference data for a resident vehicle. */
  async updateProfile(vehicleId: string, profile: VehicleProfile): Promise<void> {
    const r = this.residents.get(vehicleId);
    if (!r) return;
    this.inFlight++;
    r.seq = ++this.dispatched;
    await new Promise<void>((resolve) => this.send(r, { kind: 'profile', vehicleId, profile, completion: { done: () => { this.inFlight--; resolve(); } } }));
  }

  /** Stops a vehicle (its company was deactivated): it leaves the index and every client's map. */
  retire(vehicleId: string): void {
    const r = this.residents.get(vehicleId);
    if (r === undefined && !this.passivated.delete(vehicleId)) return;
    this.liveness.forget(vehicleId);
    const company = r?.state.profile.company ?? this.deps.index.get(vehicleId)?.company ?? null;
    if (r !== undefined) {
      this.residents.delete(vehicleId);
      this.deps.directory.forget([vehicleId]);
      this.pending.forget(r.state);
      // Through the mailbox, not nact's stop() alone (which drops what is queued, and with it the
      // completions of batches and profile changes: the partition would never move on).
      this.afterQueued(r, () => setImmediate(() => this.stopActor(r)));
    }
    this.pending.retired.push(vehicleId);
    this.deps.index.remove(vehicleId);
    this.deps.hub.publish({ id: vehicleId, company, delta: null, view: null, receivedAt: Date.now() });
    this.deps.live?.gone(this.partition, vehicleId, company);
  }

  /** Runs `then` once every message queued at the vehicle's actor before now is done. */
  private afterQueued(r: Resident, then: () => void): void {
    this.inFlight++;
    if (r.ref === null) {
      // No actor yet: nothing is queued for it.
      setImmediate(() => {
        this.inFlight--;
        then();
      });
      return;
    }
    dispatch(r.ref, { kind: 'barrier', vehicleId: r.state.vehicleId, completion: { done: () => {
      this.inFlight--;
      then();
    } } });
  }

  // VehicleOutbox: called by this shard's vehicle actors.
  accepted(state: VehicleState, point: TelemetryPoint): void {
    this.pending.positions.push({ vehicleId: state.vehicleId, point });
    this.deps.metrics.pointsAccepted(1);
  }

  rejected(reason: PointRejection): void {
    this.deps.metrics.pointRejected(reason, 'actor');
  }

  watch(state: VehicleState, dueAt: number): void {
    if (this.isResident(state)) this.liveness.schedule(state.vehicleId, dueAt);
  }

  windowSettled(state: VehicleState): void {
    if (this.isResident(state)) this.pending.unsnapshotted.add(state);
  }

  changed(state: VehicleState, delta: VehicleDelta, moved: boolean, receivedAt: number, previousCompany: string | null): void {
    // Points that were queued at a retired vehicle's actor are stored, but it stays off every map.
    if (!this.isResident(state)) return;
    const view = state.view as VehicleView;
    this.pending.markChanged(state);
    this.deps.index.upsert(view, moved);
    if (previousCompany !== view.company) {
      this.deps.hub.publish({ id: view.id, company: previousCompany, delta: null, view: null, receivedAt });
    }
    this.deps.hub.publish({ id: view.id, company: view.company, delta, view, receivedAt });
    this.deps.live?.changed(this.partition, view, receivedAt);
  }

  /** A vehicle actor threw: its state is put back in place (vehicle-recovery.ts). */
  crashed(vehicleId: string, error: unknown): Promise<void> {
    return this.recovery.crashed(vehicleId, error);
  }

  events(events: VehicleEvent[]): void {
    if (events.length === 0 || this.residents.get(events[0].vehicleId) === undefined) return;
    this.deps.metrics.eventsEmitted(events.length);
    for (const e of events) {
      this.pending.events.push(e);
      this.deps.hub.publishEvent(e);
      this.deps.live?.event(this.partition, e);
    }
  }

  repair(repair: SegmentRepair): void {
    if (this.residents.get(repair.vehicleId) !== undefined) this.pending.repairs.push(repair);
  }

  segments(segments: TripSegment[]): void {
    if (segments.length === 0 || this.residents.get(segments[0].vehicleId) === undefined) return;
    for (const s of segments) this.pending.segments.push(s);
  }

  /**
   * Takes everything a checkpoint must write; with snapshots, they cover at least `nextOffset`
   * (every vehicle changed since the last snapshot write is in them). No snapshots while a
   * crashed actor is being put back (crashed()): the data says so, and nothing is committed.
   */
  takeCheckpoint(withSnapshots = true): CheckpointData {
    this.checkpointedOffsets = [this.appliedOffset, this.forwardedAppliedOffset];
    const data = this.pending.take(this.appliedOffset, this.forwardedAppliedOffset, withSnapshots && !this.recovery.holdsSnapshots);
    this.recovery.taken(data);
    return data;
  }

  /**
   * Whether the next checkpoint should write snapshots (and so commit): `intervalMs` has passed
   * since the last snapshot write, or nothing was applied since the last checkpoint (the
   * partition is quiet: its snapshots cost little now, and its offsets stop lagging).
   */
  snapshotDue(now: number, intervalMs: number): boolean {
    if (now - this.lastSnapshotAt >= intervalMs) return true;
    const [applied, forwarded] = this.checkpointedOffsets;
    return applied === this.appliedOffset && forwarded === this.forwardedAppliedOffset;
  }

  /** A checkpoint failed: what it took is pending again (and written with the next one). */
  giveBack(data: CheckpointData): void {
    this.recovery.givenBack(data);
    this.pending.giveBack(data, (s) => this.residents.get(s.vehicleId)?.state === s);
  }

  get hasPendingCheckpoint(): boolean {
    return !this.pending.isEmpty || this.appliedOffset > this.committedOffset || this.forwardedAppliedOffset > this.forwardedCommittedOffset;
  }

  /**
   * Hands the partition off: stops every actor and removes its vehicles from the index
   * (unless `keepIndexed`: a stopping node clears the whole index once instead).
   */
  close(options: { keepIndexed?: boolean } = {}): void {
    this.closed = true;
    this.streaming?.close();
    if (!options.keepIndexed) {
      this.deps.index.removeMany(this.residents.keys());
      this.deps.index.removeMany(this.passivated);
    }
    this.deps.directory.forget(this.residents.keys());
    this.residents.clear();
    this.passivated.clear();
    clearInterval(this.livenessTimer);
    stop(this.parent);
  }
}
