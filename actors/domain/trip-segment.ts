/**
 * A trip (the vehicle moving) or a stop (standing still) of one vehicle: what reports are built
 * from, instead of replaying every position. Written at checkpoints and upserted by id, so a
 * segment is written while it is open, again when it closes, and again when a late point
 * repairs it.
 */
export interface TripSegment {
  /** `${vehicleId}:${kind}:${startTs}`: deterministic, so a replay rewrites the same row. */
  readonly id: string;
  readonly kind: 'trip' | 'stop';
  readonly vehicleId: string;
  readonly company: string | null;
  readonly deviceId: string;
  /** ms since epoch. */
  readonly startTs: number;
  /** The last point so far while open; the end when closed. */
  readonly endTs: number;
  readonly startLat: number;
  readonly startLon: number;
  readonly endLat: number;
  readonly endLon: number;
  /** Great-circle distance of the accepted points (0 for a stop). */
  readonly distanceKm: number;
  /** km/h. */
  readonly maxSpeed: number;
  /** km/h: distance over moving time (0 for a stop). */
  readonly avgSpeed: number;
  /** Time with the ignition on while standing (ms). */
  readonly idleMs: number;
  /** Whether the segment ended (a closed one is final unless a late point repairs it). */
  readonly closed: boolean;
}

export function segmentId(vehicleId: string, kind: TripSegment['kind'], startTs: number): string {
  return `${vehicleId}:${kind}:${startTs}`;
}
