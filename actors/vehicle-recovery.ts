import type { TelemetryPoint } from './domain/telemetry-point.js';
import type { VehicleEvent } from './domain/vehicle-event.js';
import type { PositionRow } from './ports/history-store.js';
import { bookChecks, vehicleLogic, type VehicleOutbox } from './vehicle-actor.js';
import { diff, restoreInto, takeSegments, type VehicleState } from './vehicle-logic.js';
import { settledHorizon } from './reorder-window.js';
import { recoverCrashed } from './crash-replay.js';
import type { CheckpointData, PendingChanges } from './pending-changes.js';
import type { ShardDeps } from './partition-shard.js';

/** What a recovery reads and writes of the shard its vehicle lives in. */
export interface RecoveringShard extends Pick<VehicleOutbox, 'events' | 'segments' | 'watch'> {
  readonly partition: number;
  /** The state object of the vehicle's actor while it is resident (undefined: it is not). */
  residentState(vehicleId: string): VehicleState | undefined;
  /** Whether the shard was handed off (close()). */
  isClosed(): boolean;
}

export type RecoveryDeps = Pick<ShardDeps, 'metrics' | 'logger' | 'index' | 'hub' | 'live' | 'lastSnapshot' | 'storedPositions' | 'storedKeptAfter' | 'vehicleLogic'>;

/**
 * The crash recovery of one shard's vehicle actors (its outbox's crashed()). It follows the
 * shard's checkpoints (taken(), givenBack()) to know what they have not written yet, and holds
 * their snapshots, and so their commits, while a recovery runs (holdsSnapshots).
 */
export class VehicleRecovery {
  /** Crashed actors being put back: checkpoints write no snapshots (so commit nothing) meanwhile. */
  private recovering = 0;
  /** The positions the last checkpoint took: unwritten until it succeeds (a failed one gives them back). */
  private writing: readonly PositionRow[] = [];
  /** The events the last checkpoint took, likewise. */
  private writingEvents: readonly VehicleEvent[] = [];

  constructor(private readonly shard: RecoveringShard, private readonly pending: PendingChanges, private readonly deps: RecoveryDeps) {}

  /** Whether a recovery runs: the next checkpoint must write no snapshots. */
  get holdsSnapshots(): boolean {
    return this.recovering > 0;
  }

  /** A checkpoint took `data` from the pending changes (being written now). */
  taken(data: CheckpointData): void {
    this.writing = data.positions;
    this.writingEvents = data.events;
  }

  /** A checkpoint failed: what it took is pending again. */
  givenBack(data: CheckpointData): void {
    if (this.writing === data.positions) this.writing = [];
    if (this.writingEvents === data.events) this.writingEvents = [];
  }

  /**
   * A vehicle actor threw: count and log it, then put its state back, in place, to what it was
   * before that message: its last written snapshot (a fresh state when it has none) with the
   * points it accepted since replayed, silently (crash-replay.ts). While that runs, checkpoints
   * write no snapshots: the state the crash left must never be stored, nor a commit move past
   * points the stored state lacks.
   */
  async crashed(vehicleId: string, error: unknown): Promise<void> {
    const partition = this.shard.partition;
    this.deps.metrics.actorCrashed(partition);
    this.deps.logger.error({ partition, vehicleId, err: (error as Error)?.message ?? String(error) }, 'vehicle actor crashed; restoring its last snapshot and replaying its points since');
    const state = this.shard.residentState(vehicleId);
    if (state === undefined) return;
    // Whatever the crash left half-done is never written. It stays among the vehicles changed
    // since their last snapshot: the state restored below is what the next snapshot write stores.
    this.pending.dirty.delete(state);
    this.recovering++;
    try {
      const lastSnapshot = this.deps.lastSnapshot;
      const stored = this.deps.storedPositions;
      const recovery = await recoverCrashed(state, {
        ...(lastSnapshot ? { lastSnapshot: () => lastSnapshot(partition, vehicleId) } : {}),
        ...(stored ? { storedPositions: (afterTs: number, limit: number) => stored(vehicleId, afterTs, limit) } : {}),
        ...(this.deps.storedKeptAfter ? { storedKeptAfter: this.deps.storedKeptAfter } : {}),
        // Copied now, before any read: what a checkpoint writes from here on is in this copy.
        unwritten: this.unwrittenPoints(vehicleId),
      }, (this.deps.vehicleLogic ?? vehicleLogic).applyPoint, Date.now());
      restoreInto(state, recovery.state);
      // Its stored snapshot may be newer and better than this state: never written over by it.
      if (recovery.snapshotUnread) this.pending.keepOut(state);
      this.deps.metrics.crashReplayed(partition, recovery.replayed);
      const fromTs = Number.isFinite(recovery.fromTs) ? recovery.fromTs : null;
      if (recovery.problem === null) this.deps.logger.info({ partition, vehicleId, fromTs, replayed: recovery.replayed }, 'crashed vehicle restored: snapshot and the points since replayed');
      else this.deps.logger.error({ partition, vehicleId, fromTs, replayed: recovery.replayed, problem: recovery.problem }, 'crashed vehicle restored incompletely');
      if (this.shard.isClosed() || this.shard.residentState(vehicleId) !== state) return;
      this.afterRecovery(state, recovery.replayed, recovery.events);
    } finally {
      this.recovering--;
    }
  }

  /**
   * `events` less those sent since the last written checkpoint (pending or being written): the
   * replay releases them again. Older ones it may release again are dropped by id downstream.
   */
  private notSentSinceCheckpoint(events: VehicleEvent[]): VehicleEvent[] {
    if (events.length === 0) return events;
    const sent = new Set<string>();
    for (const e of this.writingEvents) sent.add(e.id);
    for (const e of this.pending.events) sent.add(e.id);
    return events.filter((e) => !sent.has(e.id));
  }

  /** The accepted points of a vehicle no checkpoint has written yet, in the order they were accepted. */
  private unwrittenPoints(vehicleId: string): TelemetryPoint[] {
    const out: TelemetryPoint[] = [];
    for (const row of this.writing) if (row.vehicleId === vehicleId) out.push(row.point);
    for (const row of this.pending.positions) if (row.vehicleId === vehicleId) out.push(row.point);
    return out;
  }

  /**
   * A recovered vehicle: snapshotted next (its replayed state is newer than its snapshot), its
   * view written with the next checkpoint (the crashed message may have sent it to the index and
   * clients, never to the current state nor vehicle.updates), its segments written again (upserts
   * by id: the same rows, and any the crashed message had changed), the events its replay released
   * sent (repeats are dropped by id), its held output booked on the status timer, and its view
   * sent to clients only where it differs from the one last sent (the index's).
   */
  private afterRecovery(state: VehicleState, replayed: number, events: VehicleEvent[]): void {
    if (replayed > 0) this.pending.unsnapshotted.add(state);
    const segments = takeSegments(state, settledHorizon(state));
    if (segments !== null) this.shard.segments(segments);
    this.shard.events(this.notSentSinceCheckpoint(events));
    bookChecks(state, this.shard);
    const view = state.view;
    const id = state.vehicleId;
    const company = state.profile.company;
    const before = this.deps.index.get(id) ?? null;
    if (view === null) {
      if (before === null) return;
      this.deps.index.remove(id);
      this.deps.hub.publish({ id, company, delta: null, view: null, receivedAt: Date.now() });
      this.deps.live?.gone(this.shard.partition, id, company);
      return;
    }
    this.pending.markChanged(state);
    // Latest wins on the other nodes: sent again whether or not the crashed message sent it.
    this.deps.live?.changed(this.shard.partition, view, Date.now());
    const delta = diff(before, view);
    if (Object.keys(delta).length <= 1) return;
    this.deps.index.upsert(view, before === null || before.lat !== view.lat || before.lon !== view.lon);
    this.deps.hub.publish({ id, company, delta, view, receivedAt: Date.now() });
  }
}
