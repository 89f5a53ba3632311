import type { TelemetryPoint } from './telemetry-point.js';
import type { DomainSettings } from './domain-settings.js';

/** Why the vehicle actor drops a point (the `reason` of fleetline_points_rejected_total{source="actor"}). */
export type FilterReason =
  | 'INVALID_FIX' | 'ZERO_COORDINATES' | 'FUTURE_TIMESTAMP' | 'PAST_TIMESTAMP' | 'LOW_ACCURACY'
  | 'IMPOSSIBLE_JUMP' | 'MIN_PERIOD' | 'MIN_DISTANCE';

export type PointRejection = FilterReason | 'DUPLICATE';

/** The previous live position a point is compared with. */
export interface LastFix {
  readonly ts: number;
  readonly lat: number;
  readonly lon: number;
  readonly ignition?: boolean;
}

function num(attrs: TelemetryPoint['attrs'], key: string): number | undefined {
  const v = attrs?.[key];
  return typeof v === 'number' ? v : typeof v === 'string' && v !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined;
}

/** Rules that need no previous point: the fix itself and its timestamp against `now` (when it was received). */
export function checkFix(p: TelemetryPoint, s: DomainSettings, now: number): FilterReason | null {
  const a = p.attrs;
  if (s.filterInvalid && a !== undefined && (a.valid === false || a.valid === 'false' || a.valid === 0)) return 'INVALID_FIX';
  if (s.filterZero && p.lat === 0 && p.lon === 0) return 'ZERO_COORDINATES';
  if (s.filterFutureS > 0 && p.ts > now + s.filterFutureS * 1000) return 'FUTURE_TIMESTAMP';
  if (s.filterPastS > 0 && p.ts < now - s.filterPastS * 1000) return 'PAST_TIMESTAMP';
  if (a !== undefined) {
    const hdop = num(a, 'hdop');
    if (s.filterMaxHdop > 0 && hdop !== undefined && hdop > s.filterMaxHdop) return 'LOW_ACCURACY';
    const sat = num(a, 'sat') ?? num(a, 'satellites');
    if (s.filterMinSatellites > 0 && sat !== undefined && sat < s.filterMinSatellites) return 'LOW_ACCURACY';
    const accuracy = num(a, 'accuracy');
    if (s.filterMaxAccuracyM > 0 && accuracy !== undefined && accuracy > s.filterMaxAccuracyM) return 'LOW_ACCURACY';
  }
  return null;
}

/**
 * Rules against the previous live point (`p` is newer): a jump no vehicle makes, and the
 * optional minimal period and distance (kept when the ignition changed: that is news).
 */
export function checkStep(p: TelemetryPoint, prev: LastFix, hopKm: number, s: DomainSettings): FilterReason | null {
  const dtMs = p.ts - prev.ts;
  if (s.filterMaxSpeedKmh > 0 && hopKm * 1000 > s.jitterRadiusM && (hopKm / Math.max(dtMs, 1000)) * 3_600_000 > s.filterMaxSpeedKmh) return 'IMPOSSIBLE_JUMP';
  const ignitionChanged = p.ignition !== undefined && p.ignition !== prev.ignition;
  if (ignitionChanged) return null;
  if (s.filterMinPeriodS > 0 && dtMs < s.filterMinPeriodS * 1000) return 'MIN_PERIOD';
  if (s.filterMinDistanceM > 0 && hopKm * 1000 < s.filterMinDistanceM) return 'MIN_DISTANCE';
  return null;
}

/** Whether `p` is GPS jitter at a standstill: close to the last position and not saying it moves. */
export function isJitter(p: TelemetryPoint, hopKm: number, s: DomainSettings): boolean {
  return s.jitterRadiusM > 0 && hopKm * 1000 < s.jitterRadiusM && (p.speed === undefined || p.speed < s.movingSpeedKmh);
}
