import type { TelemetryPoint } from './telemetry-point.js';

/** What a map client sees of a vehicle (the `snap` entries and the fields `d` deltas change). */
export interface VehicleView {
  id: string;
  /** null for an unbound device: only admin tokens see it. */
  company: string | null;
  name?: string;
  plate?: string;
  lat: number;
  lon: number;
  /** ms since epoch of the last accepted point */
  ts: number;
  speed: number;
  course?: number;
  alt?: number;
  ignition?: boolean;
  fuel?: number;
  odometer?: number;
  moving: boolean;
}

/** The fields of a VehicleView that a delta may carry, always with the id. */
export type VehicleDelta = { id: string } & Partial<Omit<VehicleView, 'id'>>;

/** The durable part of a vehicle actor, written to the snapshot store. */
export interface VehicleSnapshot {
  readonly vehicleId: string;
  readonly deviceId: string;
  readonly partition: number;
  readonly view: VehicleView;
  /** Bounded rolling window of recently accepted points, oldest first. */
  readonly recent: readonly TelemetryPoint[];
  readonly accepted: number;
  /** Inside an overspeed episode (so one episode yields one event, also across restarts). */
  readonly overspeeding?: boolean;
}
