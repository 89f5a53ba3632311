import { spawnStateless, stop, dispatch, type Ref } from 'nact';
import type { LogRecord } from './ports/partitioned-log.js';
import type { EngineMetrics } from './ports/engine-metrics.js';
import type { StateIndex } from './ports/state-index.js';
import type { Logger } from './ports/logger.js';
import type { TelemetryPoint } from './domain/telemetry-point.js';
import { decodePoints } from './record-points.js';
import type { VehicleDelta, VehicleSnapshot, VehicleView } from './domain/vehicle-state.js';
import type { VehicleEvent } from './domain/vehicle-event.js';
import type { DeliveryHub } from './delivery-hub.js';
import type { LiveOutbox } from './live-updates.js';
import type { FleetDirectory, Route } from './fleet-directory.js';
import { spawnVehicle, VehicleBehaviour, type Completion, type VehicleLogic, type VehicleMsg, type VehicleOutbox } from './vehicle-actor.js';
import { fromSnapshot, newVehicleState, restoreInto, type VehicleProfile, type VehicleState } from './vehicle-logic.js';
import { PendingChanges, type CheckpointData } from './pending-changes.js';
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
  /** Replaces the vehicle logic (tests make it throw). */
  readonly vehicleLogic?: VehicleLogic;
  /** In a cluster: where every change goes for the nodes that do not own this partition. */
  readonly live?: LiveOutbox;
  /**
   * Vehicles idle this long are passivated (snapshot stored, actor stopped) and restored from
   * the snapshot store on their next point; a restore leaves such vehicles passivated. Absent: never.
   */
  readonly passivateAfterMs?: number;
}

/** Messages queued at this shard's actors above which apply() waits. */
const MAX_IN_FLIGHT = 50_000;

class PendingBatch implements Completion {
  constructor(readonly nextOffset: number, public outstanding: number, private readonly shard: PartitionShard) {}

  done(): void {
    this.shard.batchPartDone(this);
  }
}

interface Resident {
  readonly ref: Ref<VehicleMsg>;
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
  /** Next offset to read: every record below it has been applied by its actor. */
  appliedOffset = -1;
  committedOffset = -1;
  inFlight = 0;
  private readonly batches: PendingBatch[] = [];
  private drained: (() => void)[] = [];
  /** Actor names come from this counter: vehicle ids may hold characters nact refuses in a name. */
  private spawned = 0;
  private dispatched = 0;
  /** Vehicles of this partition whose actor was stopped while idle: their next point restores them. */
  private readonly passivated = new Set<string>();
  /** When passivate() last looked at every resident. */
  lastSweep = 0;
  private closed = false;
  private readonly behaviour: VehicleBehaviour;
  /** Set while points apply before every snapshot was restored (beginRestore … endRestore). */
  private streaming: StreamingRestore | null = null;

  constructor(readonly partition: number, readonly epoch: number, private readonly deps: ShardDeps) {
    this.parent = spawnStateless(deps.system, () => {}, `partition-${partition}-${epoch}`);
    this.behaviour = new VehicleBehaviour(this, deps.vehicleLogic);
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
        if (idleMs !== undefined && snap.view.ts < Date.now() - idleMs) {
          // Idle already: on the map, but no actor until its next point.
          this.passivated.add(snap.vehicleId);
          this.deps.directory.forget([snap.vehicleId]);
          views.push(snap.view);
          continue;
        }
        const state = fromSnapshot(snap, route.profile);
        this.residents.set(state.vehicleId, { ref: this.spawn(state), state, seq: 0, lastActive: Date.now() });
        if (state.view) views.push(state.view);
      } catch (e) {
        this.deps.logger.error({ partition: this.partition, vehicleId: snap?.vehicleId, err: (e as Error).message }, 'snapshot skipped: it cannot be restored (the vehicle starts afresh with its next point)');
      }
    }
    this.deps.index.upsertMany(views);
    if (skipped > 0) this.deps.logger.warn({ partition: this.partition, skipped }, 'snapshots not restored: their device is unknown now, beyond the unbound pool, or routed to another vehicle');
    return views.length;
  }

  /**
   * Dispatches a batch to its vehicle actors without waiting for them (batches pipeline);
   * appliedOffset advances as they finish. Resolves early unless too much is in flight.
   */
  async apply(records: readonly LogRecord[]): Promise<void> {
    if (records.length === 0) return;
    const byVehicle = new Map<string, { profile: VehicleProfile; deviceId: string; points: TelemetryPoint[] }>();
    let receivedAt = 0;
    const now = Date.now();
    for (const r of records) {
      receivedAt = Math.max(receivedAt, r.timestamp);
      for (const point of decodePoints(r, now, this.deps)) {
        const route = this.route(r, point);
        if (!route.ok) {
          this.deps.metrics.pointRejected(route.reason, 'log');
          continue;
        }
        const id = route.profile.vehicleId;
        let slot = byVehicle.get(id);
        if (!slot) byVehicle.set(id, (slot = { profile: route.profile, deviceId: point.deviceId, points: [] }));
        slot.points.push(point);
      }
    }
    const batch = new PendingBatch(records[records.length - 1].offset + 1, byVehicle.size, this);
    this.batches.push(batch);
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
      dispatch(r.ref, { kind: 'points', vehicleId: id, points: slot.points, receivedAt, completion: batch });
    }
    this.advance();
    // Backpressure: the caller's next batch waits while too many messages are queued at actors.
    if (this.inFlight > MAX_IN_FLIGHT) await new Promise<void>((resolve) => this.drained.push(resolve));
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
    while (this.batches.length > 0 && this.batches[0].outstanding === 0) {
      this.appliedOffset = (this.batches.shift() as PendingBatch).nextOffset;
    }
  }

  /** Resolves once every batch handed to apply() so far is applied. */
  async settled(): Promise<void> {
    while (this.inFlight > 0) await new Promise((r) => setImmediate(r));
  }

  private route(r: LogRecord, point: TelemetryPoint): Route | { readonly ok: false; readonly reason: 'ACTOR_UNAVAILABLE' } {
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
      r = { ref: this.spawn(state), state, seq: 0, lastActive: Date.now() };
      this.residents.set(vehicleId, r);
      if (this.passivated.delete(vehicleId)) {
        // Before its points: the actor's first message puts its state back from the store.
        this.deps.metrics.actorsReactivated(1);
        this.inFlight++;
        dispatch(r.ref, { kind: 'restore', vehicleId, load: () => this.storedState(vehicleId, profile), completion: { done: () => { this.inFlight--; } } });
      } else if (this.streaming !== null) {
        // Waiting from now on (not from when the actor reads the message): its page may come first.
        const snapshot = this.streaming.snapshotOf(vehicleId);
        this.inFlight++;
        dispatch(r.ref, { kind: 'restore', vehicleId, load: () => snapshot.then((snap) => this.restorable(snap, profile)), completion: { done: () => { this.inFlight--; } } });
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
  private async storedState(vehicleId: string, profile: VehicleProfile): Promise<VehicleState | null> {
    for (let attempt = 0; ; attempt++) {
      try {
        const snap = await this.deps.lastSnapshot?.(this.partition, vehicleId);
        return snap === undefined ? null : fromSnapshot(snap, profile);
      } catch (e) {
        if (attempt >= 5) {
          this.deps.logger.error({ partition: this.partition, vehicleId, err: (e as Error).message }, 'passivated vehicle not restored: the snapshot store failed; it starts afresh');
          return null;
        }
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      }
    }
  }

  /**
   * Stops the actors of vehicles whose last points arrived before `idleBefore`, the longest idle
   * first, at most `max`. Only right after a written checkpoint: a vehicle that is not dirty then
   * has its newest state in the store; one that received anything since the barrier was sent,
   * or changed, stays. Its view stays on the map.
   */
  passivate(idleBefore: number, max = Number.POSITIVE_INFINITY): number {
    this.lastSweep = Date.now();
    const idle: Resident[] = [];
    for (const r of this.residents.values()) if (r.lastActive < idleBefore && !this.pending.dirty.has(r.state)) idle.push(r);
    if (idle.length > max) {
      idle.sort((a, b) => a.lastActive - b.lastActive);
      idle.length = Math.max(0, Math.floor(max));
    }
    for (const r of idle) {
      const seq = r.seq;
      const id = r.state.vehicleId;
      this.afterQueued(r, () => {
        if (this.closed || this.residents.get(id) !== r || r.seq !== seq || this.pending.dirty.has(r.state)) return;
        this.residents.delete(id);
        this.passivated.add(id);
        this.deps.directory.forget([id]);
        this.deps.metrics.actorsPassivated(1);
        setImmediate(() => stop(r.ref));
      });
    }
    return idle.length;
  }

  private spawn(state: VehicleState): Ref<VehicleMsg> {
    return spawnVehicle(this.parent, `v${++this.spawned}`, state, this.behaviour);
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
    await new Promise<void>((resolve) => dispatch(r.ref, { kind: 'profile', vehicleId, profile, completion: { done: () => { this.inFlight--; resolve(); } } }));
  }

  /** Stops a vehicle (its company was deactivated): it leaves the index and every client's map. */
  retire(vehicleId: string): void {
    const r = this.residents.get(vehicleId);
    if (r === undefined && !this.passivated.delete(vehicleId)) return;
    const company = r?.state.profile.company ?? this.deps.index.get(vehicleId)?.company ?? null;
    if (r !== undefined) {
      this.residents.delete(vehicleId);
      this.deps.directory.forget([vehicleId]);
      this.pending.dirty.delete(r.state);
      // Through the mailbox, not nact's stop() alone (which drops what is queued, and with it the
      // completions of batches and profile changes: the partition would never move on).
      this.afterQueued(r, () => setImmediate(() => stop(r.ref)));
    }
    this.pending.retired.push(vehicleId);
    this.deps.index.remove(vehicleId);
    this.deps.hub.publish({ id: vehicleId, company, delta: null, view: null, receivedAt: Date.now() });
    this.deps.live?.gone(this.partition, vehicleId, company);
  }

  /** Runs `then` once every message queued at the vehicle's actor before now is done. */
  private afterQueued(r: Resident, then: () => void): void {
    this.inFlight++;
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

  rejected(reason: 'DUPLICATE' | 'OUT_OF_ORDER'): void {
    this.deps.metrics.pointRejected(reason, 'actor');
  }

  changed(state: VehicleState, delta: VehicleDelta, moved: boolean, receivedAt: number, previousCompany: string | null): void {
    // Points that were queued at a retired vehicle's actor are stored, but it stays off every map.
    if (!this.isResident(state)) return;
    const view = state.view as VehicleView;
    this.pending.dirty.add(state);
    this.deps.index.upsert(view, moved);
    if (previousCompany !== view.company) {
      this.deps.hub.publish({ id: view.id, company: previousCompany, delta: null, view: null, receivedAt });
    }
    this.deps.hub.publish({ id: view.id, company: view.company, delta, view, receivedAt });
    this.deps.live?.changed(this.partition, view, receivedAt);
  }

  /**
   * A vehicle actor threw: count and log it, then put its state back to its last written
   * snapshot (a fresh state when it has none), in place. What it had accepted since is already
   * in the history rows pending here; its later points apply on top of the restored state.
   */
  async crashed(vehicleId: string, error: unknown): Promise<void> {
    this.deps.metrics.actorCrashed(this.partition);
    this.deps.logger.error({ partition: this.partition, vehicleId, err: (error as Error)?.message ?? String(error) }, 'vehicle actor crashed; restoring its last snapshot');
    const r = this.residents.get(vehicleId);
    if (r === undefined) return;
    const state = r.state;
    // Whatever the crash left half-done is never written.
    this.pending.dirty.delete(state);
    let restored: VehicleState | null = null;
    try {
      const snap = await this.deps.lastSnapshot?.(this.partition, vehicleId);
      if (snap !== undefined) restored = fromSnapshot(snap, state.profile);
    } catch (e) {
      this.deps.logger.warn({ partition: this.partition, vehicleId, err: (e as Error).message }, 'crashed vehicle: snapshot unreadable, reset instead');
    }
    restored ??= newVehicleState(state.profile, state.deviceId, this.partition);
    restoreInto(state, restored);
    if (this.closed || this.residents.get(vehicleId) !== r) return;
    const view = state.view;
    if (view !== null) this.deps.index.upsert(view, true);
    else this.deps.index.remove(vehicleId);
    this.deps.hub.publish({ id: vehicleId, company: state.profile.company, delta: view === null ? null : { ...view }, view, receivedAt: Date.now() });
    if (view !== null) this.deps.live?.changed(this.partition, view, Date.now());
    else this.deps.live?.gone(this.partition, vehicleId, state.profile.company);
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

  /** Takes everything a checkpoint must write; the snapshots cover at least `nextOffset`. */
  takeCheckpoint(): CheckpointData {
    return this.pending.take(this.appliedOffset);
  }

  /** A checkpoint failed: what it took is pending again (and written with the next one). */
  giveBack(data: CheckpointData): void {
    this.pending.giveBack(data, (s) => this.residents.get(s.vehicleId)?.state === s);
  }

  get hasPendingCheckpoint(): boolean {
    return !this.pending.isEmpty || this.appliedOffset > this.committedOffset;
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
    stop(this.parent);
  }
}
