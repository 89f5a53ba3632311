import type { PositionRow } from './ports/history-store.js';
import type { VehicleSnapshot, VehicleView } from './domain/vehicle-state.js';
import type { VehicleEvent } from './domain/vehicle-event.js';
import type { TripSegment } from './domain/trip-segment.js';
import { toSnapshot, type VehicleState } from './vehicle-logic.js';
import type { SegmentRepair } from './segment-repair.js';

/** What one checkpoint takes from a shard; handed back when the write fails. */
export interface CheckpointData {
  /** telemetry.raw's next offset to read: everything below is applied or forwarded. */
  readonly nextOffset: number;
  /** The same for telemetry.by-vehicle. */
  readonly forwardedNextOffset: number;
  /**
   * Whether this checkpoint carries the snapshot of every vehicle changed since the last one
   * written: only then do its offsets become committable (the stores then cover them).
   */
  readonly withSnapshots: boolean;
  /** Vehicles changed since the last checkpoint: their views go to the current state and outputs. */
  readonly states: VehicleState[];
  /** Vehicles changed since the last snapshot write (withSnapshots only, else empty). */
  readonly snapshotStates: VehicleState[];
  readonly snapshots: VehicleSnapshot[];
  readonly views: VehicleView[];
  readonly positions: PositionRow[];
  readonly events: VehicleEvent[];
  /** Trips and stops opened, grown, closed or repaired since the last checkpoint. */
  readonly segments: TripSegment[];
  /** Vehicles retired since the last checkpoint: removed from the published current state. */
  readonly retired: string[];
  /** Re-cuts of closed trips and stops that late points asked for (after positions and segments are written). */
  readonly repairs: SegmentRepair[];
}

/**
 * What changed in a shard since its last checkpoint, and which vehicles changed since their
 * snapshot was last written (snapshots have a cadence of their own: docs/storage.md).
 */
export class PendingChanges {
  /** Changed since the last checkpoint. */
  dirty = new Set<VehicleState>();
  /** Changed since the last checkpoint that wrote snapshots (a superset of dirty). */
  unsnapshotted = new Set<VehicleState>();
  positions: PositionRow[] = [];
  events: VehicleEvent[] = [];
  segments: TripSegment[] = [];
  retired: string[] = [];
  repairs: SegmentRepair[] = [];

  get isEmpty(): boolean {
    return this.dirty.size === 0 && this.unsnapshotted.size === 0 && this.positions.length === 0 && this.events.length === 0 && this.segments.length === 0 && this.retired.length === 0 && this.repairs.length === 0;
  }

  /**
   * Vehicles whose snapshot must not be written (a crash recovery could not read it: the stored
   * one may be better than the state rebuilt without it). Kept out until it is passivated (its
   * restore reads the snapshot again), retired, or the shard is handed off.
   */
  readonly keptOut = new Set<VehicleState>();

  keepOut(state: VehicleState): void {
    this.keptOut.add(state);
  }

  markChanged(state: VehicleState): void {
    this.dirty.add(state);
    this.unsnapshotted.add(state);
  }

  forget(state: VehicleState): void {
    this.keptOut.delete(state);
    this.dirty.delete(state);
    this.unsnapshotted.delete(state);
  }

  /**
   * Takes everything; with `withSnapshots`, snapshots (copies made now) of every vehicle changed
   * since the last snapshot write, else the views of those changed since the last checkpoint.
   */
  take(nextOffset: number, forwardedNextOffset: number, withSnapshots = true): CheckpointData {
    const states = [...this.dirty];
    this.dirty = new Set();
    const snapshots: VehicleSnapshot[] = [];
    const views: VehicleView[] = [];
    let snapshotStates: VehicleState[] = [];
    if (withSnapshots) {
      snapshotStates = [...this.unsnapshotted];
      this.unsnapshotted = new Set();
      for (const s of snapshotStates) {
        if (this.keptOut.has(s)) continue;
        const snap = toSnapshot(s);
        if (snap) snapshots.push(snap);
      }
    }
    // A view is replaced, never changed in place, once it is the state's: a shallow copy is enough.
    for (const s of states) if (s.view !== null) views.push({ ...s.view });
    const data = { nextOffset, forwardedNextOffset, withSnapshots, states, snapshotStates, snapshots, views, positions: this.positions, events: this.events, segments: this.segments, retired: this.retired, repairs: this.repairs };
    this.positions = [];
    this.events = [];
    this.segments = [];
    this.retired = [];
    this.repairs = [];
    return data;
  }

  /** A failed checkpoint's data is pending again (states only while `current` says they still are). */
  giveBack(data: CheckpointData, current: (s: VehicleState) => boolean): void {
    for (const s of data.states) if (current(s)) this.dirty.add(s);
    for (const s of data.snapshotStates) if (current(s)) this.unsnapshotted.add(s);
    this.positions = data.positions.concat(this.positions);
    this.events = data.events.concat(this.events);
    this.segments = data.segments.concat(this.segments);
    this.retired = data.retired.concat(this.retired);
    this.repairs = data.repairs.concat(this.repairs);
  }
}
