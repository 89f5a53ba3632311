import type { TelemetryPoint } from './domain/telemetry-point.js';
import type { DomainSettings } from './domain/domain-settings.js';
import type { TripSegment } from './domain/trip-segment.js';
import { haversineKm } from './domain/geo.js';
import { isJitter } from './domain/point-filters.js';
import { newDomainState, toTripSegment, type SegmentState } from './domain/domain-state.js';
import { EventWriter } from './event-writer.js';
import { recordMotion, type MotionPoint } from './trip-recorder.js';

/**
 * A late point fell before the vehicle's open segment: the closed trips and stops of its period
 * may be cut differently now. The history store re-derives them from the stored positions
 * (rederiveSegments) once the point is stored; the actor keeps only its open segment.
 */
export interface SegmentRepair {
  readonly vehicleId: string;
  readonly company: string | null;
  readonly deviceId: string;
  /** The late point's time: the period to re-cut starts at the last stop that began at or before it. */
  readonly lateTs: number;
  /** Where the actor's open segment starts: segments from here on are the actor's, never touched. */
  readonly untilTs: number;
  readonly settings: DomainSettings;
}

/** Where the re-cut period starts: a stop (the vehicle stood there), as the segments table has it. */
export interface StopStart {
  readonly ts: number;
  readonly lat: number;
  readonly lon: number;
}

const MUTED = new EventWriter();

/**
 * The trips and stops of `points` (time order, from `from.ts` up to `untilTs`), by the actor's own
 * trip recorder with the same jitter snapping, starting stopped at `from`. Every segment comes
 * out closed: the one still running at the end ends at the last point (the actor's open
 * segment takes over there). No event fires.
 */
export function rederiveSegments(r: SegmentRepair, from: StopStart, points: readonly TelemetryPoint[]): TripSegment[] {
  const s = r.settings;
  const d = newDomainState();
  const closed: SegmentState[] = [];
  MUTED.reset(r.vehicleId, r.company, [], true);
  let prev: MotionPoint | null = null;
  const start: MotionPoint = { ts: from.ts, lat: from.lat, lon: from.lon, speed: 0, ignition: undefined };
  recordMotion(d, s, null, start, 0, MUTED, closed);
  prev = start;
  for (const p of points) {
    if (p.ts <= from.ts || p.ts > r.untilTs) continue;
    let lat = p.lat;
    let lon = p.lon;
    let hopKm = haversineKm(prev.lat, prev.lon, lat, lon);
    if (isJitter(p, hopKm, s)) {
      lat = prev.lat;
      lon = prev.lon;
      hopKm = 0;
    }
    const speed = p.speed ?? hopKm / ((p.ts - prev.ts) / 3_600_000);
    const here: MotionPoint = { ts: p.ts, lat, lon, speed, ignition: p.ignition ?? prev.ignition };
    recordMotion(d, s, prev, here, hopKm, MUTED, closed);
    prev = here;
  }
  const out = closed.map((seg) => toTripSegment(seg, r.vehicleId, r.company, r.deviceId));
  const last = d.segment;
  if (last !== null && last.startTs < r.untilTs) out.push(toTripSegment({ ...last, closed: true }, r.vehicleId, r.company, r.deviceId));
  return out.filter((t) => t.startTs < r.untilTs);
}
