import type { TelemetryPoint } from './domain/telemetry-point.js';
import type { VehicleDelta, VehicleSnapshot, VehicleView } from './domain/vehicle-state.js';
import type { VehicleEvent } from './domain/vehicle-event.js';
import type { TripSegment } from './domain/trip-segment.js';
import { bearingDeg, haversineKm } from './domain/geo.js';
import { DEFAULT_SETTINGS, type DomainSettings } from './domain/domain-settings.js';
import { checkFix, checkStep, isJitter, type PointRejection } from './domain/point-filters.js';
import { copyDomainState, domainFromSnapshot, newDomainState, sharedStatus, toTripSegment, type DomainState, type SegmentState } from './domain/domain-state.js';
import { RecentTrack } from './recent-track.js';
import { latestAttributes } from './domain/attributes.js';
import { EventWriter } from './event-writer.js';
import { recordMotion, type MotionPoint } from './trip-recorder.js';
import { resolveSpeedLimit, trackAttributes, trackFuel, trackOverspeed } from './signal-events.js';
import { repairWithLatePoint } from './late-points.js';
import type { GeofenceIndex } from './geofence-index.js';
import { newWindow, type ReorderWindow } from './reorder-window.js';
import type { SegmentRepair } from './segment-repair.js';
import { newPresence, pendingSnapshot, presenceFromSnapshot, sameIds, trackGeofences, type GeofencePresence } from './geofence-tracker.js';

/** Reference data a vehicle actor holds (from the fleet directory). */
export interface VehicleProfile {
  readonly vehicleId: string;
  readonly company: string | null;
  readonly name?: string;
  readonly plate?: string;
  readonly type?: string;
  readonly speedLimit?: number;
  /** The deployment's settings with the company's and the vehicle's overrides (resolved once per change). */
  readonly settings?: DomainSettings;
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
  /** Recently applied points in time order (jitter snapped), at most RECENT_WINDOW: the late-point repair horizon. */
  recent: RecentTrack;
  accepted: number;
  domain: DomainState;
  /** Segments closed or repaired since the actor last handed them out (takeSegments); not in snapshots. */
  segmentsOut: SegmentState[];
  /** Whether the open segment changed since then. */
  segmentDirty: boolean;
  geofences: GeofencePresence;
  /** The reorder window (reorder-window.ts); null until the first point, or with reorderWindowS 0. */
  window: ReorderWindow | null;
  /** The oldest late point since the last takeRepair that fell before the open segment (+∞: none). */
  repairFrom: number;
}

export const RECENT_WINDOW = 16;
/** Positions closer than this are jitter: the course is kept rather than recomputed. */
const MIN_COURSE_KM = 0.005;

export type ApplyOutcome =
  | { readonly accepted: true; readonly delta: VehicleDelta; readonly moved: boolean }
  /** Stored in history, not live: a late point (its repair may change the odometer, in `delta`) or one stamped in the future. */
  | { readonly accepted: true; readonly delta: VehicleDelta | null; readonly moved: false; readonly late: true }
  | { readonly accepted: false; readonly reason: PointRejection };

export function newVehicleState(profile: VehicleProfile, deviceId: string, partition: number): VehicleState {
  return {
    vehicleId: profile.vehicleId, deviceId, partition, profile, view: null, recent: new RecentTrack(RECENT_WINDOW), accepted: 0,
    domain: newDomainState(), segmentsOut: [], segmentDirty: false, geofences: newPresence(), window: null, repairFrom: Infinity,
  };
}

export function settingsOf(state: VehicleState): DomainSettings {
  return state.profile.settings ?? DEFAULT_SETTINGS;
}

const WRITER = new EventWriter();

/**
 * Applies one point: filters, the order (a duplicate is dropped; an older point is late and
 * repairs instead of moving the vehicle back; one stamped in the future is stored only),
 * derived state, the changed fields, and events. `now` is when the point was received.
 */
export function applyPoint(state: VehicleState, p: TelemetryPoint, events: VehicleEvent[], now: number = p.ts): ApplyOutcome {
  const s = settingsOf(state);
  const fix = checkFix(p, s, now);
  if (fix !== null) return { accepted: false, reason: fix };
  const prev = state.view;
  if (prev !== null && p.ts <= prev.ts) {
    if (p.ts === prev.ts) return { accepted: false, reason: 'DUPLICATE' };
    return repairWithLatePoint(state, s, p);
  }
  // A clock running ahead must not freeze the vehicle: such a point never becomes the live one.
  if (p.ts > now + s.futureToleranceS * 1000) return { accepted: true, delta: null, moved: false, late: true };

  let lat = p.lat;
  let lon = p.lon;
  let hopKm = prev ? haversineKm(prev.lat, prev.lon, lat, lon) : 0;
  if (prev !== null) {
    const step = checkStep(p, prev, hopKm, s);
    if (step !== null) return { accepted: false, reason: step };
    if (isJitter(p, hopKm, s)) {
      lat = prev.lat;
      lon = prev.lon;
      hopKm = 0;
    }
  }
  const speed = p.speed ?? (prev ? hopKm / ((p.ts - prev.ts) / 3_600_000) : 0);
  const course = p.course ?? (prev && hopKm >= MIN_COURSE_KM ? bearingDeg(prev.lat, prev.lon, lat, lon) : prev?.course);
  const odometer = p.odometer !== undefined && !s.ignoreDeviceOdometer ? p.odometer : (prev?.odometer ?? 0) + hopKm;
  const profile = state.profile;
  const d = state.domain;

  const next: VehicleView = { id: state.vehicleId, company: profile.company, lat, lon, ts: p.ts, speed: Math.round(speed * 10) / 10, moving: d.moving };
  if (profile.name !== undefined) next.name = profile.name;
  if (profile.plate !== undefined) next.plate = profile.plate;
  if (profile.type !== undefined) next.type = profile.type;
  if (course !== undefined) next.course = Math.round(course * 10) / 10 % 360;
  const alt = p.alt ?? prev?.alt;
  if (alt !== undefined) next.alt = alt;
  const ignition = p.ignition ?? prev?.ignition;
  if (ignition !== undefined) next.ignition = ignition;
  next.odometer = Math.round(odometer * 1000) / 1000;
  if (prev?.status !== undefined) next.status = prev.status;

  const ev = WRITER.reset(state.vehicleId, profile.company, events, false);
  const here: MotionPoint = { ts: p.ts, lat, lon, speed, ignition };
  const before: MotionPoint | null = prev && { ts: prev.ts, lat: prev.lat, lon: prev.lon, speed: prev.speed, ignition: prev.ignition };
  recordMotion(d, s, before, here, hopKm, ev, state.segmentsOut);
  state.segmentDirty = true;
  next.moving = d.moving;
  // Geofences first: the limit of the geofences the vehicle is in replaces its own.
  trackGeofences(state.geofences, profile.geofences, state.vehicleId, next, events);
  trackOverspeed(d, s, here, state.geofences.speedLimit ?? resolveSpeedLimit(s, profile.speedLimit), ev);
  trackFuel(d, s, here, p.fuel, ev);
  const fuel = Number.isNaN(d.fuelLast) ? p.fuel ?? prev?.fuel : d.fuelLast;
  if (fuel !== undefined) next.fuel = fuel;
  const attrs = latestAttributes(prev?.attrs, p.attrs);
  if (attrs !== undefined) next.attrs = attrs;
  trackAttributes(d, s, p, prev?.ignition, ev);
  const alerts = activeAlerts(d);
  if (alerts !== undefined) next.alerts = alerts;

  const delta = diff(prev, next);
  state.view = next;
  state.deviceId = p.deviceId;
  state.recent.push(lat === p.lat && lon === p.lon ? p : { ...p, lat, lon });
  state.accepted++;
  return { accepted: true, delta, moved: prev === null || prev.lat !== next.lat || prev.lon !== next.lon };
}

/**
 * The message's points were received at `receivedAt`: the vehicle is online. Returns the delta
 * when its status changed (device_online fired), null otherwise.
 */
export function markReceived(state: VehicleState, receivedAt: number, events: VehicleEvent[]): VehicleDelta | null {
  const d = state.domain;
  if (receivedAt > d.lastReceivedAt) d.lastReceivedAt = receivedAt;
  const view = state.view;
  if (d.status === 'online' || view === null) return null;
  d.status = 'online';
  WRITER.reset(state.vehicleId, state.profile.company, events, false).emit('device_online', receivedAt, view.lat, view.lon);
  return setStatus(state, view, 'online');
}

/**
 * The status timer's check: offline once nothing was received for offlineTimeoutS. Returns the
 * delta when it went offline; `due` is when to look again while it is online.
 */
export function checkOffline(state: VehicleState, now: number, events: VehicleEvent[]): { delta: VehicleDelta | null; due: number | null } {
  const d = state.domain;
  const view = state.view;
  if (d.status !== 'online' || view === null) return { delta: null, due: null };
  const due = d.lastReceivedAt + settingsOf(state).offlineTimeoutS * 1000;
  if (now < due) return { delta: null, due };
  d.status = 'offline';
  WRITER.reset(state.vehicleId, state.profile.company, events, false).emit('device_offline', due, view.lat, view.lon, { lastReceivedAt: d.lastReceivedAt });
  return { delta: setStatus(state, view, 'offline'), due: null };
}

/** When the vehicle, online, is due to be looked at by the status timer (null: not online). */
export function offlineDue(state: VehicleState): number | null {
  return state.domain.status === 'online' ? state.domain.lastReceivedAt + settingsOf(state).offlineTimeoutS * 1000 : null;
}

/** offlineDue of a snapshot's vehicle, without restoring it (a passivated vehicle stays a snapshot). */
export function snapshotOfflineDue(snap: VehicleSnapshot, profile: VehicleProfile): number | null {
  const d = snap.domain;
  if (d?.status !== 'online' || typeof d.lastReceivedAt !== 'number') return null;
  return d.lastReceivedAt + (profile.settings ?? DEFAULT_SETTINGS).offlineTimeoutS * 1000;
}

function setStatus(state: VehicleState, view: VehicleView, status: 'online' | 'offline'): VehicleDelta {
  state.view = { ...view, status };
  return { id: view.id, status };
}

/**
 * The segments to write since the last call: every one closed or repaired, and the open one if
 * it changed. One opened by a point after `settledUpTo` waits (the reorder window may still move
 * its start, which is its id).
 */
export function takeSegments(state: VehicleState, settledUpTo = Infinity): TripSegment[] | null {
  const current = state.domain.segment;
  const open = state.segmentDirty && current !== null && !(current.openedTs !== undefined && current.openedTs > settledUpTo) ? current : null;
  if (state.segmentsOut.length === 0) {
    if (open === null) return null;
    state.segmentDirty = false;
    return [toTripSegment(open, state.vehicleId, state.profile.company, state.deviceId)];
  }
  const byId = new Map<string, TripSegment>();
  const company = state.profile.company;
  const waiting: SegmentState[] = [];
  for (const seg of state.segmentsOut) {
    if (seg.openedTs !== undefined && seg.openedTs > settledUpTo) {
      waiting.push(seg);
      continue;
    }
    const t = toTripSegment(seg, state.vehicleId, company, state.deviceId);
    byId.set(t.id, t);
  }
  if (open !== null) {
    const t = toTripSegment(open, state.vehicleId, company, state.deviceId);
    byId.set(t.id, t);
    state.segmentDirty = false;
  }
  state.segmentsOut = waiting;
  return byId.size > 0 ? [...byId.values()] : null;
}

/** The re-cut of closed trips and stops that late points since the last call ask for (null: none). */
export function takeRepair(state: VehicleState): SegmentRepair | null {
  const from = state.repairFrom;
  const open = state.domain.segment;
  if (from === Infinity || open === null) return null;
  state.repairFrom = Infinity;
  return { vehicleId: state.vehicleId, company: state.profile.company, deviceId: state.deviceId, lateTs: from, untilTs: open.startTs, settings: settingsOf(state) };
}

/** The fields of `next` that differ from `prev` (everything for a first point), always with the id. */
export function diff(prev: VehicleView | null, next: VehicleView): VehicleDelta {
  if (prev === null) return { ...next };
  // Spelled out rather than looped over a key list: this runs for every accepted point.
  const d: VehicleDelta = { id: next.id };
  if (prev.company !== next.company) d.company = next.company;
  if (prev.name !== next.name) d.name = next.name;
  if (prev.plate !== next.plate) d.plate = next.plate;
  if (prev.type !== next.type) d.type = next.type;
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
  if (prev.attrs !== next.attrs) d.attrs = next.attrs;
  if (prev.status !== next.status) d.status = next.status;
  if (prev.geofences !== next.geofences && !sameIds(prev.geofences, next.geofences)) d.geofences = next.geofences ?? [];
  if (prev.alerts !== next.alerts && !sameIds(prev.alerts, next.alerts)) d.alerts = next.alerts ?? [];
  return d;
}

// Shared arrays: a view per point must not allocate for alerts, and equal sets compare by reference.
const OVERSPEED: readonly string[] = Object.freeze(['overspeed']);
const ALARM: readonly string[] = Object.freeze(['alarm']);
const BOTH: readonly string[] = Object.freeze(['alarm', 'overspeed']);

/** The view's `alerts`: what a dispatcher's "alerts only" filter shows (docs/protocol.md). */
function activeAlerts(d: DomainState): readonly string[] | undefined {
  if (d.overspeeding) return d.alarm !== null ? BOTH : OVERSPEED;
  return d.alarm !== null ? ALARM : undefined;
}

/** Applies changed reference data; returns the delta clients must see (or null if nothing visible changed). */
export function applyProfile(state: VehicleState, profile: VehicleProfile): VehicleDelta | null {
  state.profile = profile;
  const prev = state.view;
  if (prev === null) return null;
  const next: VehicleView = { ...prev, company: profile.company };
  delete next.name;
  delete next.plate;
  delete next.type;
  if (profile.name !== undefined) next.name = profile.name;
  if (profile.plate !== undefined) next.plate = profile.plate;
  if (profile.type !== undefined) next.type = profile.type;
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
    overspeeding: state.domain.overspeeding,
    domain: copyDomainState(state.domain),
    ...(pending !== undefined ? { geofencesPending: pending } : {}),
    ...(state.window !== null && state.window.held.length > 0 ? { heldEvents: state.window.held.slice() } : {}),
  };
}

/** Puts `from`'s state into `target` (same vehicle): a crashed actor keeps its state object. */
export function restoreInto(target: VehicleState, from: VehicleState): void {
  target.deviceId = from.deviceId;
  target.profile = from.profile;
  target.view = from.view;
  target.recent = from.recent;
  target.accepted = from.accepted;
  target.domain = from.domain;
  target.segmentsOut = from.segmentsOut;
  target.segmentDirty = from.segmentDirty;
  target.geofences = from.geofences;
  target.window = from.window;
  target.repairFrom = Infinity;
}

export function fromSnapshot(s: VehicleSnapshot, profile: VehicleProfile): VehicleState {
  const domain = domainFromSnapshot(s.domain, s.view);
  if (s.domain === undefined) domain.overspeeding = s.overspeeding ?? false;
  // The profile's copy of the id: the decoded one (a string per snapshot) is garbage then.
  const vehicleId = profile.vehicleId === s.vehicleId ? profile.vehicleId : s.vehicleId;
  return {
    vehicleId,
    deviceId: s.deviceId,
    partition: s.partition,
    profile,
    view: restoredView(s.view, vehicleId, profile.company),
    recent: RecentTrack.fromFlat(s.recent, RECENT_WINDOW),
    accepted: s.accepted,
    domain,
    // Events held by the reorder window go out with the next message; the segments it withheld are written again.
    segmentsOut: s.heldEvents !== undefined && domain.previous !== null ? [domain.previous] : [],
    segmentDirty: s.heldEvents !== undefined,
    geofences: presenceFromSnapshot(s.view.geofences, s.geofencesPending),
    window: s.heldEvents !== undefined ? newWindow(s.view.ts, s.heldEvents.slice()) : null,
    repairFrom: Infinity,
  };
}

/**
 * The stored view as the live one: its fields in the order applyPoint adds them (one hidden
 * class for both), the id and status strings shared rather than the ones each snapshot decodes,
 * fields the view type does not know left behind.
 */
function restoredView(v: VehicleView, id: string, company: string | null): VehicleView {
  const view: VehicleView = { id, company, lat: v.lat, lon: v.lon, ts: v.ts, speed: v.speed, moving: v.moving };
  if (v.name !== undefined) view.name = v.name;
  if (v.plate !== undefined) view.plate = v.plate;
  if (v.type !== undefined) view.type = v.type;
  if (v.course !== undefined) view.course = v.course;
  if (v.alt !== undefined) view.alt = v.alt;
  if (v.ignition !== undefined) view.ignition = v.ignition;
  if (v.odometer !== undefined) view.odometer = v.odometer;
  if (v.status !== undefined) view.status = sharedStatus(v.status) ?? v.status;
  if (v.geofences !== undefined) view.geofences = v.geofences;
  if (v.fuel !== undefined) view.fuel = v.fuel;
  if (v.attrs !== undefined) view.attrs = v.attrs;
  if (v.alerts !== undefined) view.alerts = v.alerts;
  return view;
}
