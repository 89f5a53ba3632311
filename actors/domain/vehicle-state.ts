import type { DomainState } from './domain-state.js';
import type { VehicleEvent } from './vehicle-event.js';


import type { Attributes } from './attributes.js';

/** What a map client sees of a vehicle (the `snap` entries and the fields `d` deltas change). */
export interface VehicleView {
  id: string;
  /** null for an unbound device: only admin tokens see it. */
  company: string | null;
  name?: string;
  plate?: string;
  /** The vehicle's type from reference data (`full` fields only). */
  type?: string;
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
  /** Motion with hysteresis (trips and stops), not one speed reading. */
  moving: boolean;
  /** The latest device attributes (actors/domain/attributes.ts); a delta carries the whole map when it changed. */
  attrs?: Attributes;
  /** online / offline (no point received for offlineTimeoutS) / unknown (not heard from since a restart of an old snapshot). */
  status?: 'online' | 'offline' | 'unknown';
  /** Ids of the geofences the vehicle is inside, sorted; absent when none. A delta carries [] for none. */
  geofences?: readonly string[];
  /** Alerts active now, sorted: `overspeed` (inside an overspeed episode), `alarm` (the latest point carries an alarm). Absent when none; a delta carries [] when the last one ended. */
  alerts?: readonly string[];
}

/** The fields of a VehicleView that a delta may carry, always with the id. */
export type VehicleDelta = { id: string } & Partial<Omit<VehicleView, 'id'>>;

/** The durable part of a vehicle actor, written to the snapshot store. */
/** Numbers per point in VehicleSnapshot.recent: ts, lat, lon, speed. */
export const RECENT_FIELDS = 4;

export interface VehicleSnapshot {
  readonly vehicleId: string;
  readonly deviceId: string;
  readonly partition: number;
  readonly view: VehicleView;
  /**
   * The rolling window of recently accepted points, oldest first, flat: [ts, lat, lon, speed,
   * ts, lat, …], speed null when the device sent none (see RECENT_FIELDS). Numbers rather than
   * point objects: a snapshot is half the bytes and decodes into 1 array instead of 16 objects.
   */
  readonly recent: readonly (number | null)[];
  readonly accepted: number;
  /** Inside an overspeed episode (so one episode yields one event, also across restarts). */
  readonly overspeeding?: boolean;
  /** Motion, open segments, episodes, fuel window, status (domain-state.ts); absent in older snapshots. */
  readonly domain?: Partial<DomainState>;
  /** Geofence enters and exits waiting for their dwell: [geofenceId, since, …] (the inside set is view.geofences). */
  readonly geofencesPending?: readonly (string | number)[];
  /** Events the reorder window held (not yet final) when the snapshot was taken: they go out after a restore. */
  readonly heldEvents?: readonly VehicleEvent[];
}
