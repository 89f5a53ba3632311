import type { TelemetryPoint } from '../domain/telemetry-point.js';
import type { VehicleEvent } from '../domain/vehicle-event.js';
import type { TripSegment } from '../domain/trip-segment.js';
import type { SegmentRepair } from '../segment-repair.js';

export interface PositionRow {
  readonly vehicleId: string;
  readonly point: TelemetryPoint;
}

/**
 * Durable history: positions (partitioned by day in PostgreSQL), trips and stops, and events (unique by id, so a
 * replayed event is written once). Written in bulk at checkpoints, before offsets are committed.
 */
export interface HistoryStore {
  readonly kind: string;
  appendPositions(rows: readonly PositionRow[]): Promise<void>;
  /** Idempotent: an event whose id exists is skipped. */
  appendEvents(events: readonly VehicleEvent[]): Promise<void>;
  /** Trips and stops, replaced by id (an open segment is rewritten as it grows and when it closes). */
  upsertSegments(segments: readonly TripSegment[]): Promise<void>;
  /**
   * Re-cuts the closed trips and stops a late point falls in, from the stored positions
   * (rederiveSegments), replacing the rows of that period. Optional: a store without positions has nothing to re-cut from.
   */
  repairSegments?(repairs: readonly SegmentRepair[]): Promise<void>;
  /**
   * A vehicle's stored positions stamped after `afterTs`, oldest first: the newest `limit` of
   * them when there are more (a crashed vehicle actor replays them over its restored snapshot).
   * Optional: a store that keeps no positions has nothing to replay.
   */
  positionsAfter?(vehicleId: string, afterTs: number, limit: number): Promise<TelemetryPoint[]>;
  /**
   * Every position stamped after this (ms) is still kept: the newest ts the store has forgotten
   * (-Infinity: none). A crash replay over an older snapshot is incomplete. Absent: nothing is
   * forgotten that a replay could need.
   */
  keptAfter?(): number;
  close(): Promise<void>;
}
