/** Events derived by a vehicle actor. Ids are deterministic, so a replay never duplicates one. */
export type VehicleEventType =
  | 'overspeed'
  | 'trip_start'
  | 'trip_end'
  | 'ignition_on'
  | 'ignition_off'
  | 'online'
  | 'offline'
  /** data: geofenceId, name, since (the first point inside; the event fires after the dwell). */
  | 'geofenceEnter'
  | 'geofenceExit';

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
