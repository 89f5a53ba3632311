/** Events derived by a vehicle actor. Ids are deterministic, so a replay never duplicates one. */
/** The wire names (docs/protocol.md lists what each means and carries in `data`). */
export const VEHICLE_EVENT_TYPES = [
  'overspeed_start', 'overspeed_end', 'trip_start', 'trip_end', 'stop_start', 'stop_end', 'idle_start', 'idle_end',
  'ignition_on', 'ignition_off', 'fuel_refuel', 'fuel_drain', 'device_online', 'device_offline', 'driver_changed', 'alarm',
  /** data: geofenceId, name, since (the first point inside; the event fires after the dwell). */
  'geofence_enter', 'geofence_exit',
] as const;

export type VehicleEventType = (typeof VEHICLE_EVENT_TYPES)[number];

export interface VehicleEvent {
  /** `${vehicleId}:${type}:${ts}` — the same point always yields the same id. */
  readonly id: string;
  readonly vehicleId: string;
  readonly company: string | null;
  readonly type: VehicleEventType;
  readonly ts: number;
  readonly lat: number;
  readonly lon: number;
  readonly data?: Readonly<Record<string, string | number | boolean>>;
}

export function eventId(vehicleId: string, type: VehicleEventType, ts: number): string {
  return `${vehicleId}:${type}:${ts}`;
}
