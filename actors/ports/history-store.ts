import type { TelemetryPoint } from '../domain/telemetry-point.js';
import type { VehicleEvent } from '../domain/vehicle-event.js';

export interface PositionRow {
  readonly vehicleId: string;
  readonly point: TelemetryPoint;
}

/**
 * Durable history: positions (partitioned by day in PostgreSQL) and events (unique by id, so a
 * replayed event is written once). Written in bulk at checkpoints, before offsets are committed.
 */
export interface HistoryStore {
  readonly kind: string;
  appendPositions(rows: readonly PositionRow[]): Promise<void>;
  /** Idempotent: an event whose id exists is skipped. */
  appendEvents(events: readonly VehicleEvent[]): Promise<void>;
  close(): Promise<void>;
}
