import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import type { VehicleDelta, VehicleView } from '../../actors/domain/vehicle-state.js';
import { eventId, type VehicleEvent } from '../../actors/domain/vehicle-event.js';
import { bearingDeg, haversineKm } from '../../actors/domain/geo.js';
import { diff } from '../../actors/vehicle-logic.js';

/** A device's reference data as the processor reads it from Redis on every point. */
export interface VehicleRef {
  readonly vehicleId: string;
  readonly company: string;
  readonly active: boolean;
  readonly name?: string;
  readonly plate?: string;
  /** km/h */
  readonly speedLimit?: number;
}

/** A vehicle's current state in Redis: what clients see plus what the next point needs. */
export interface StoredState {
  readonly view: VehicleView;
  readonly overspeeding: boolean;
}

export interface DerivationSettings {
  readonly movingSpeedKmh: number;
  /** Limit of vehicles whose reference names none; 0: none. */
  readonly speedLimitKmh: number;
}

export interface Derived {
  readonly state: StoredState;
  /** Fields changed since `prevTs` (everything for a first point), with the id. */
  readonly delta: VehicleDelta;
  /** ts of the state the delta applies to; 0 for a first point. */
  readonly prevTs: number;
  readonly events: VehicleEvent[];
}

export type DerivationOutcome = { readonly ok: true; readonly derived: Derived } | { readonly ok: false; readonly reason: 'DUPLICATE' | 'OUT_OF_ORDER' };

/** Positions closer than this keep the previous course (jitter at a standstill has no direction). */
const MIN_COURSE_KM = 0.005;

/**
 * The derived basics a classic processing service computes per point from the previous state:
 * speed (reported, else implied by the last hop), course, odometer, moving, overspeed. A point
 * not newer than the stored one is dropped: without a window there is nothing to repair with.
 */
export function derive(ref: VehicleRef, prev: StoredState | null, p: TelemetryPoint, s: DerivationSettings): DerivationOutcome {
  const pv = prev?.view ?? null;
  if (pv !== null && p.ts <= pv.ts) return { ok: false, reason: p.ts === pv.ts ? 'DUPLICATE' : 'OUT_OF_ORDER' };
  const hopKm = pv ? haversineKm(pv.lat, pv.lon, p.lat, p.lon) : 0;
  const speed = p.speed ?? (pv ? hopKm / ((p.ts - pv.ts) / 3_600_000) : 0);
  const course = p.course ?? (pv && hopKm >= MIN_COURSE_KM ? bearingDeg(pv.lat, pv.lon, p.lat, p.lon) : pv?.course);
  const odometer = p.odometer ?? (pv?.odometer ?? 0) + hopKm;
  const view: VehicleView = { id: ref.vehicleId, company: ref.company, lat: p.lat, lon: p.lon, ts: p.ts, speed: Math.round(speed * 10) / 10, moving: speed >= s.movingSpeedKmh };
  if (ref.name !== undefined) view.name = ref.name;
  if (ref.plate !== undefined) view.plate = ref.plate;
  if (course !== undefined) view.course = Math.round(course * 10) / 10 % 360;
  const alt = p.alt ?? pv?.alt;
  if (alt !== undefined) view.alt = alt;
  const ignition = p.ignition ?? pv?.ignition;
  if (ignition !== undefined) view.ignition = ignition;
  const fuel = p.fuel ?? pv?.fuel;
  if (fuel !== undefined) view.fuel = fuel;
  view.odometer = Math.round(odometer * 1000) / 1000;
  if (p.attrs !== undefined) view.attrs = p.attrs;
  else if (pv?.attrs !== undefined) view.attrs = pv.attrs;

  const limit = ref.speedLimit ?? s.speedLimitKmh;
  const over = limit > 0 && speed > limit;
  const wasOver = prev?.overspeeding ?? false;
  const events: VehicleEvent[] = [];
  if (over !== wasOver) {
    const type = over ? 'overspeed_start' : 'overspeed_end';
    events.push({ id: eventId(ref.vehicleId, type, p.ts), vehicleId: ref.vehicleId, company: ref.company, type, ts: p.ts, lat: p.lat, lon: p.lon, data: { speed: view.speed, limit } });
  }
  return { ok: true, derived: { state: { view, overspeeding: over }, delta: diff(pv, view), prevTs: pv?.ts ?? 0, events } };
}
