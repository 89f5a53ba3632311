import type { TelemetryPoint } from '../domain/telemetry-point.js';
import type { VehicleEvent } from '../domain/vehicle-event.js';
import type { TripSegment } from '../domain/trip-segment.js';

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
  close(): Promise<void>;
}
