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
  readonly states: VehicleState[];
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

/** What changed in a shard since its last checkpoint. */
export class PendingChanges {
  dirty = new Set<VehicleState>();
  positions: PositionRow[] = [];
  events: VehicleEvent[] = [];
  segments: TripSegment[] = [];
  retired: string[] = [];
  repairs: SegmentRepair[] = [];

  get isEmpty(): boolean {
    return this.dirty.size === 0 && this.positions.length === 0 && this.events.length === 0 && this.segments.length === 0 && this.retired.length === 0 && this.repairs.length === 0;
  }

  /** Takes everything; the snapshots are copies made now. */
  take(nextOffset: number, forwardedNextOffset: number): CheckpointData {
    const states = [...this.dirty];
    this.dirty = new Set();
    const snapshots: VehicleSnapshot[] = [];
    const views: VehicleView[] = [];
    for (const s of states) {
      const snap = toSnapshot(s);
      if (snap) {
        snapshots.push(snap);
        views.push(snap.view);
      }
    }
    const data = { nextOffset, forwardedNextOffset, states, snapshots, views, positions: this.positions, events: this.events, segments: this.segments, retired: this.retired, repairs: this.repairs };
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
    this.positions = data.positions.concat(this.positions);
    this.events = data.events.concat(this.events);
    this.segments = data.segments.concat(this.segments);
    this.retired = data.retired.concat(this.retired);
    this.repairs = data.repairs.concat(this.repairs);
  }
}
