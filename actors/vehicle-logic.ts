import type { TelemetryPoint } from './domain/telemetry-point.js';
import type { VehicleDelta, VehicleSnapshot, VehicleView } from './domain/vehicle-state.js';
import { eventId, type VehicleEvent, type VehicleEventType } from './domain/vehicle-event.js';
import { bearingDeg, haversineKm } from './domain/geo.js';
import { RecentTrack } from './recent-track.js';
import type { GeofenceIndex } from './geofence-index.js';
import { currentSpeedLimit, newPresence, pendingSnapshot, presenceFromSnapshot, sameIds, trackGeofences, type GeofencePresence } from './geofence-tracker.js';

/** Reference data a vehicle actor holds (from the fleet directory). */
export interface VehicleProfile {
  readonly vehicleId: string;
  readonly company: string | null;
  readonly name?: string;
  readonly plate?: string;
  readonly speedLimit?: number;
  /** The node's geofences (shared by every actor); absent for a vehicle of no company. */
  readonly geofences?: GeofenceIndex;
}

/** The state one vehicle actor owns. Mutated in place by applyPoint: the hot path allocates little. */
export interface VehicleState {
  readonly vehicleId: string;
  deviceId: string;
  readonly partition: number;
  profile: VehicleProfile;
  view: VehicleView | null;
  /** Rolling window of recently accepted points, oldest first, at most RECENT_WINDOW long. */
  recent: RecentTrack;
  accepted: number;
  overspeeding: boolean;
  geofences: GeofencePresence;
}

export const RECENT_WINDOW = 16;
/** Below this a vehicle counts as stopped (GPS jitter at standstill stays under it). */
export const MOVING_KMH = 3;
/** Positions closer than this are jitter: the course is kept rather than recomputed. */
const MIN_COURSE_KM = 0.005;

export type ApplyOutcome =
  | { readonly accepted: true; readonly delta: VehicleDelta; readonly moved: boolean }
  | { readonly accepted: false; readonly reason: 'DUPLICATE' | 'OUT_OF_ORDER' };

export function newVehicleState(profile: VehicleProfile, deviceId: string, partition: number): VehicleState {
  return { vehicleId: profile.vehicleId, deviceId, partition, profile, view: null, recent: new RecentTrack(RECENT_WINDOW), accepted: 0, overspeeding: false, geofences: newPresence() };
}

/**
 * Applies one point: the timestamp guard (duplicates and out-of-order points are dropped, which
 * makes replay after a crash idempotent), derived state, the changed fields, and events.
 */
export function applyPoint(state: VehicleState, p: TelemetryPoint, events: VehicleEvent[]): ApplyOutcome {
  const prev = state.view;
  if (prev !== null) {
    if (p.ts === prev.ts) return { accepted: false, reason: 'DUPLICATE' };
    if (p.ts < prev.ts) return { accepted: false, reason: 'OUT_OF_ORDER' };
  }
  const distKm = prev ? haversineKm(prev.lat, prev.lon, p.lat, p.lon) : 0;
  const speed = p.speed ?? (prev ? (distKm / ((p.ts - prev.ts) / 3_600_000)) : 0);
  const course = p.course ?? (prev && distKm >= MIN_COURSE_KM ? bearingDeg(prev.lat, prev.lon, p.lat, p.lon) : prev?.course);
  const odometer = p.odometer ?? (prev?.odometer !== undefined ? prev.odometer + distKm : undefined);
  const moving = speed >= MOVING_KMH;
  const profile = state.profile;

  const next: VehicleView = {
    id: state.vehicleId,
    company: profile.company,
    lat: p.lat,
    lon: p.lon,
    ts: p.ts,
    speed: Math.round(speed * 10) / 10,
    moving,
  };
  if (profile.name !== undefined) next.name = profile.name;
  if (profile.plate !== undefined) next.plate = profile.plate;
  if (course !== undefined) next.course = Math.round(course * 10) / 10 % 360;
  const alt = p.alt ?? prev?.alt;
  if (alt !== undefined) next.alt = alt;
  const ignition = p.ignition ?? prev?.ignition;
  if (ignition !== undefined) next.ignition = ignition;
  const fuel = p.fuel ?? prev?.fuel;
  if (fuel !== undefined) next.fuel = fuel;
  if (odometer !== undefined) next.odometer = Math.round(odometer * 1000) / 1000;
  trackGeofences(state.geofences, profile.geofences, state.vehicleId, next, events);

  const delta = diff(prev, next);
  deriveEvents(state, prev, next, events);

  state.view = next;
  state.deviceId = p.deviceId;
  state.recent.push(p);
  state.accepted++;
  return { accepted: true, delta, moved: prev === null || prev.lat !== next.lat || prev.lon !== next.lon };
}

/** The fields of `next` that differ from `prev` (everything for a first point), always with the id. */
export function diff(prev: VehicleView | null, next: VehicleView): VehicleDelta {
  if (prev === null) return { ...next };
  // Spelled out rather than looped over a key list: this runs for every accepted point.
  const d: VehicleDelta = { id: next.id };
  if (prev.company !== next.company) d.company = next.company;
  if (prev.name !== next.name) d.name = next.name;
  if (prev.plate !== next.plate) d.plate = next.plate;
  if (prev.lat !== next.lat) d.lat = next.lat;
  if (prev.lon !== next.lon) d.lon = next.lon;
  if (prev.ts !== next.ts) d.ts = next.ts;
  if (prev.speed !== next.speed) d.speed = next.speed;
  if (prev.course !== next.course) d.course = next.course;
  if (prev.alt !== next.alt) d.alt = next.alt;
  if (prev.ignition !== next.ignition) d.ignition = next.ignition;
  if (prev.fuel !== next.fuel) d.fuel = next.fuel;
  if (prev.odometer !== next.odometer) d.odometer = next.odometer;
  if (prev.moving !== next.moving) d.moving = next.moving;
  if (prev.geofences !== next.geofences && !sameIds(prev.geofences, next.geofences)) d.geofences = next.geofences ?? [];
  return d;
}

function emit(state: VehicleState, events: VehicleEvent[], type: VehicleEventType, v: VehicleView, data?: Record<string, string | number | boolean>): void {
  const e: VehicleEvent = { id: eventId(state.vehicleId, type, v.ts), vehicleId: state.vehicleId, company: v.company, type, ts: v.ts, lat: v.lat, lon: v.lon, ...(data ? { data } : {}) };
  events.push(e);
}

function deriveEvents(state: VehicleState, prev: VehicleView | null, next: VehicleView, events: VehicleEvent[]): void {
  const limit = currentSpeedLimit(state.profile.speedLimit, state.geofences);
  if (limit !== undefined) {
    const over = next.speed > limit;
    if (over && !state.overspeeding) emit(state, events, 'overspeed', next, { speed: next.speed, limit });
    state.overspeeding = over;
  }
  if (prev === null) return;
  if (next.moving && !prev.moving) emit(state, events, 'trip_start', next);
  if (!next.moving && prev.moving) emit(state, events, 'trip_end', next);
  if (next.ignition === true && prev.ignition === false) emit(state, events, 'ignition_on', next);
  if (next.ignition === false && prev.ignition === true) emit(state, events, 'ignition_off', next);
}

/** Applies changed reference data; returns the delta clients must see (or null if nothing visible changed). */
export function applyProfile(state: VehicleState, profile: VehicleProfile): VehicleDelta | null {
  state.profile = profile;
  const prev = state.view;
  if (prev === null) return null;
  const next: VehicleView = { ...prev, company: profile.company };
  delete next.name;
  delete next.plate;
  if (profile.name !== undefined) next.name = profile.name;
  if (profile.plate !== undefined) next.plate = profile.plate;
  state.view = next;
  const d = diff(prev, next);
  return Object.keys(d).length > 1 ? d : null;
}

export function toSnapshot(state: VehicleState): VehicleSnapshot | null {
  if (state.view === null) return null;
  const pending = pendingSnapshot(state.geofences);
  return {
    vehicleId: state.vehicleId,
    deviceId: state.deviceId,
    partition: state.partition,
    view: { ...state.view },
    recent: state.recent.toFlat(),
    accepted: state.accepted,
    overspeeding: state.overspeeding,
    ...(pending !== undefined ? { geofencesPending: pending } : {}),
  };
}

/** Puts `from`'s state into `target` (same vehicle): a crashed actor keeps its state object. */
export function restoreInto(target: VehicleState, from: VehicleState): void {
  target.deviceId = from.deviceId;
  target.profile = from.profile;
  target.view = from.view;
  target.recent = from.recent;
  target.accepted = from.accepted;
  target.overspeeding = from.overspeeding;
  target.geofences = from.geofences;
}

export function fromSnapshot(s: VehicleSnapshot, profile: VehicleProfile): VehicleState {
  return {
    vehicleId: s.vehicleId,
    deviceId: s.deviceId,
    partition: s.partition,
    profile,
    view: { ...s.view, company: profile.company },
    recent: RecentTrack.fromFlat(s.recent, RECENT_WINDOW),
    accepted: s.accepted,
    overspeeding: s.overspeeding ?? false,
    geofences: presenceFromSnapshot(s.view.geofences, s.geofencesPending),
  };
}
