import type { TelemetryPoint } from './domain/telemetry-point.js';
import type { DomainSettings } from './domain/domain-settings.js';
import type { SegmentState } from './domain/domain-state.js';
import { haversineKm } from './domain/geo.js';
import { checkStep } from './domain/point-filters.js';
import type { ApplyOutcome, VehicleState } from './vehicle-logic.js';

/** Where a late point's time falls: the open segment or the last closed one (older ones are final). */
function segmentAt(state: VehicleState, ts: number): SegmentState | null {
  const d = state.domain;
  if (d.segment !== null && ts >= d.segment.startTs) return d.segment;
  if (d.previous !== null && ts >= d.previous.startTs && ts <= d.previous.endTs) return d.previous;
  return null;
}

/**
 * A point older than the live one. It is stored in history, never moves the live position and
 * never fires an event; within the recent window (the repair horizon) it is put in its place in
 * time and repairs what it changes: the odometer and the distance and top speed of the trip it
 * falls in (the open one is written again; closed ones are re-cut by the history store from the
 * stored positions, SegmentRepair). Older than the window: history only. A point already in
 * the window is a duplicate, so a replay repairs nothing twice.
 */
export function repairWithLatePoint(state: VehicleState, s: DomainSettings, p: TelemetryPoint): ApplyOutcome {
  const track = state.recent;
  const k = track.after(p.ts);
  if (k > 0 && track.tsAt(k - 1) === p.ts) return { accepted: false, reason: 'DUPLICATE' };
  // Before the open segment: the closed trips and stops of its period are re-cut from history (segment-repair.ts).
  const open = state.domain.segment;
  if (open !== null && p.ts < open.startTs && p.ts < state.repairFrom) state.repairFrom = p.ts;
  if (k === 0 || k === track.length) return { accepted: true, delta: null, moved: false, late: true };
  const aLat = track.latAt(k - 1);
  const aLon = track.lonAt(k - 1);
  const bLat = track.latAt(k);
  const bLon = track.lonAt(k);
  const fromA = haversineKm(aLat, aLon, p.lat, p.lon);
  const step = checkStep(p, { ts: track.tsAt(k - 1), lat: aLat, lon: aLon }, fromA, s);
  if (step === 'IMPOSSIBLE_JUMP') return { accepted: false, reason: step };
  const addedKm = Math.max(0, fromA + haversineKm(p.lat, p.lon, bLat, bLon) - haversineKm(aLat, aLon, bLat, bLon));
  // Jitter stays jitter: a detour shorter than the snapping radius repairs nothing.
  const repairKm = addedKm * 1000 < s.jitterRadiusM ? 0 : addedKm;
  track.insert(repairKm === 0 ? { ...p, lat: aLat, lon: aLon } : p);
  const seg = segmentAt(state, p.ts);
  const speed = p.speed ?? 0;
  if (seg !== null && seg.kind === 'trip' && (repairKm > 0 || speed > seg.maxSpeed)) {
    seg.distanceKm += repairKm;
    if (speed > seg.maxSpeed) seg.maxSpeed = speed;
    // A closed one is written again by the history's re-cut, not from here (which could not move its ends).
    if (seg === state.domain.segment) state.segmentDirty = true;
  }
  const view = state.view;
  if (repairKm === 0 || view === null || view.odometer === undefined || (p.odometer !== undefined && !s.ignoreDeviceOdometer)) {
    return { accepted: true, delta: null, moved: false, late: true };
  }
  const odometer = Math.round((view.odometer + repairKm) * 1000) / 1000;
  state.view = { ...view, odometer };
  return { accepted: true, delta: { id: view.id, odometer }, moved: false, late: true };
}
