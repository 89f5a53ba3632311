/** Reference data owned by the fleet back office (PostgreSQL is its source of truth). */

export interface Company {
  readonly id: string;
  readonly name: string;
  readonly active: boolean;
}

export interface Vehicle {
  readonly id: string;
  readonly companyId: string;
  readonly name?: string;
  readonly plate?: string;
  /** km/h; the overspeed threshold for this vehicle. */
  readonly speedLimit?: number;
}

export interface DeviceBinding {
  readonly deviceId: string;
  readonly vehicleId: string;
}

export interface FleetSnapshot {
  readonly companies: readonly Company[];
  readonly vehicles: readonly Vehicle[];
  readonly devices: readonly DeviceBinding[];
}

/** One change to reference data, as carried by the compacted topic fleet.reference. */
export type ReferenceChange =
  | { readonly kind: 'company'; readonly id: string; readonly value: Company | null }
  | { readonly kind: 'vehicle'; readonly id: string; readonly value: Vehicle | null }
  | { readonly kind: 'device'; readonly id: string; readonly value: DeviceBinding | null };
