import type { Geofence } from './geofence.js';

/** Reference data owned by the fleet back office (PostgreSQL is its source of truth). */
import type { SettingsOverride } from './domain-settings.js';

export interface Company {
  readonly id: string;
  readonly name: string;
  readonly active: boolean;
  /** Overrides of the vehicle domain settings for the company's vehicles. */
  readonly settings?: SettingsOverride;
}

export interface Vehicle {
  readonly id: string;
  readonly companyId: string;
  readonly name?: string;
  readonly plate?: string;
  /** What kind of vehicle it is (`truck`, `bus`, `van`…: the fleet's own words); subscriptions filter by it. */
  readonly type?: string;
  /** km/h; the overspeed threshold for this vehicle. */
  readonly speedLimit?: number;
  /** Overrides of the vehicle domain settings for this vehicle (over its company's). */
  readonly settings?: SettingsOverride;
}

export interface DeviceBinding {
  readonly deviceId: string;
  readonly vehicleId: string;
}

/** A driver; `uniqueId` is what a device reports (e.g. an iButton or RFID card) to name who drives. */
export interface Driver {
  readonly id: string;
  readonly companyId: string;
  readonly name: string;
  readonly uniqueId?: string;
}

/** A named set of vehicles of one company (what subscriptions may select). */
export interface VehicleGroup {
  readonly id: string;
  readonly companyId: string;
  readonly name: string;
  readonly vehicleIds: readonly string[];
}

export type { Geofence };

export interface FleetSnapshot {
  readonly companies: readonly Company[];
  readonly vehicles: readonly Vehicle[];
  readonly devices: readonly DeviceBinding[];
  readonly geofences?: readonly Geofence[];
  readonly drivers?: readonly Driver[];
  readonly groups?: readonly VehicleGroup[];
}

/** One change to reference data, as carried by the compacted topic fleet.reference. */
export type ReferenceChange =
  | { readonly kind: 'company'; readonly id: string; readonly value: Company | null }
  | { readonly kind: 'vehicle'; readonly id: string; readonly value: Vehicle | null }
  | { readonly kind: 'device'; readonly id: string; readonly value: DeviceBinding | null }
  | { readonly kind: 'geofence'; readonly id: string; readonly value: Geofence | null }
  | { readonly kind: 'driver'; readonly id: string; readonly value: Driver | null }
  | { readonly kind: 'group'; readonly id: string; readonly value: VehicleGroup | null };

/** Every kind of reference entity, as fleet.reference keys (`<kind>:<id>`) and PostgreSQL notifications name them. */
export const REFERENCE_KINDS = ['company', 'vehicle', 'device', 'geofence', 'driver', 'group'] as const;
export type ReferenceKind = (typeof REFERENCE_KINDS)[number];

/**
 * Unbound devices live in an id space of their own: their vehicle id is `~dev/<deviceId>`.
 * Reference data may not name a vehicle with the `~` prefix, so no device id, however chosen,
 * can become (and take over) a bound vehicle. `~` and `/` are outside the deviceId alphabet.
 */
export const UNBOUND_VEHICLE_PREFIX = '~dev/';

export function unboundVehicleId(deviceId: string): string {
  return UNBOUND_VEHICLE_PREFIX + deviceId;
}

/** Whether a vehicle id from reference data is refused: the `~` namespace is reserved. */
export function isReservedVehicleId(id: string): boolean {
  return id.startsWith('~');
}
