import type { Geofence } from './domain/geofence.js';
import type { VehicleView } from './domain/vehicle-state.js';
import { eventId, type VehicleEvent, type VehicleEventType } from './domain/vehicle-event.js';
import type { GeofenceIndex, GeofencePolicy } from './geofence-index.js';

/** The geofences a vehicle is in, part of its actor's state. */
export interface GeofencePresence {
  /**
   * Ids of the geofences the vehicle is inside (entered and the dwell passed), sorted. Replaced,
   * never changed in place: the view shares the array, and an unchanged array is an unchanged
   * field for the delta.
   */
  inside: readonly string[];
  /** Enters and exits waiting for their dwell: geofence id → ts of the first point of the change. */
  pending: Map<string, number> | null;
  /** The speed limit of the geofences holding the last point (lowest or highest), if any has one. */
  speedLimit: number | undefined;
}

/** The durable part of a presence besides `inside` (which the view holds): pending as [id, since, id, since, …]. */
export type PendingSnapshot = readonly (string | number)[];

const NONE: readonly string[] = Object.freeze([]);

export function newPresence(): GeofencePresence {
  return { inside: NONE, pending: null, speedLimit: undefined };
}

export function presenceFromSnapshot(inside: readonly string[] | undefined, pending: PendingSnapshot | undefined): GeofencePresence {
  const p = newPresence();
  if (inside !== undefined && inside.length > 0) p.inside = inside;
  if (pending !== undefined && pending.length > 0) {
    p.pending = new Map();
    for (let i = 0; i + 1 < pending.length; i += 2) p.pending.set(String(pending[i]), Number(pending[i + 1]));
  }
  return p;
}

export function pendingSnapshot(p: GeofencePresence): PendingSnapshot | undefined {
  if (p.pending === null || p.pending.size === 0) return undefined;
  const out: (string | number)[] = [];
  for (const [id, since] of p.pending) out.push(id, since);
  return out;
}

/**
 * The vehicle's current speed limit: its geofences' (already reduced to the lowest or highest
 * of them by the policy) replace the vehicle's own while it is inside them, as in Traccar.
 */
export function currentSpeedLimit(vehicleLimit: number | undefined, presence: GeofencePresence): number | undefined {
  return presence.speedLimit ?? vehicleLimit;
}

/** The lowest or highest speed limit among geofences (undefined when none has one). */
export function geofenceSpeedLimit(fences: readonly Geofence[], mode: GeofencePolicy['speedLimit']): number | undefined {
  let limit: number | undefined;
  for (let i = 0; i < fences.length; i++) {
    const l = fences[i].speedLimit;
    if (l === undefined) continue;
    if (limit === undefined || (mode === 'lowest' ? l < limit : l > limit)) limit = l;
  }
  return limit;
}

/** A geofence event's id: the vehicle's event id plus the geofence, so two geofences at one point differ. */
export function geofenceEventId(vehicleId: string, type: VehicleEventType, ts: number, geofenceId: string): string {
  return `${eventId(vehicleId, type, ts)}:${geofenceId}`;
}

/** Whether two inside sets (sorted id lists, absent = none) are equal: views decoded from elsewhere share no arrays. */
export function sameIds(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const x = a ?? NONE;
  const y = b ?? NONE;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Scratch list of the geofences holding the current point (one thread, one point at a time). */
const HOLDING: Geofence[] = [];

/**
 * Runs per accepted point, after `view` is built and before the delta and overspeed: finds the
 * geofences of the vehicle's company holding the point (spatial index, never a scan), updates
 * the presence (enter/exit after the dwell), sets `view.geofences` and pushes the events.
 * A vehicle with nothing inside, nothing pending and no geofence around costs one index lookup.
 */
export function trackGeofences(
  presence: GeofencePresence, index: GeofenceIndex | undefined, vehicleId: string, view: VehicleView, events: VehicleEvent[],
): void {
  const holding = HOLDING;
  if (index !== undefined && view.company !== null) index.containing(view.company, view.lat, view.lon, holding);
  else holding.length = 0;
  presence.speedLimit = index === undefined ? undefined : geofenceSpeedLimit(holding, index.policy.speedLimit);
  if (presence.pending !== null || !holdsExactly(holding, presence.inside)) {
    update(presence, index, vehicleId, view, holding, events);
  }
  if (presence.inside.length > 0) view.geofences = presence.inside;
  holding.length = 0;
}

/** Whether the geofences holding the point are exactly those the vehicle is inside (the steady state). */
function holdsExactly(holding: readonly Geofence[], inside: readonly string[]): boolean {
  if (holding.length !== inside.length) return false;
  for (let i = 0; i < holding.length; i++) if (!inside.includes(holding[i].id)) return false;
  return true;
}

function holds(holding: readonly Geofence[], id: string): boolean {
  for (let i = 0; i < holding.length; i++) if (holding[i].id === id) return true;
  return false;
}

function update(presence: GeofencePresence, index: GeofenceIndex | undefined, vehicleId: string, view: VehicleView, holding: readonly Geofence[], events: VehicleEvent[]): void {
  const ts = view.ts;
  const defaultDwell = index?.policy.dwellMs ?? 0;
  const pending = presence.pending ?? new Map<string, number>();
  let entered: [Geofence, number][] | null = null;
  let exited: [string, number][] | null = null;

  for (const fence of holding) {
    if (presence.inside.includes(fence.id)) {
      pending.delete(fence.id); // back inside before the exit fired
      continue;
    }
    const since = pending.get(fence.id) ?? ts;
    if (ts - since >= (fence.dwellS === undefined ? defaultDwell : fence.dwellS * 1000)) {
      pending.delete(fence.id);
      (entered ??= []).push([fence, since]);
    } else {
      pending.set(fence.id, since);
    }
  }
  for (const id of presence.inside) {
    if (holds(holding, id)) continue;
    const since = pending.get(id) ?? ts;
    const dwellS = index?.get(id)?.dwellS;
    if (ts - since >= (dwellS === undefined ? defaultDwell : dwellS * 1000)) {
      pending.delete(id);
      (exited ??= []).push([id, since]);
    } else {
      pending.set(id, since);
    }
  }
  // An enter still waiting for its dwell is called off by a point outside.
  for (const id of pending.keys()) if (!holds(holding, id) && !presence.inside.includes(id)) pending.delete(id);
  presence.pending = pending.size > 0 ? pending : null;

  if (exited === null && entered === null) return;
  const gone = exited === null ? null : new Set(exited.map(([id]) => id));
  const next = presence.inside.filter((id) => gone === null || !gone.has(id));
  if (entered !== null) for (const [f] of entered) next.push(f.id);
  next.sort();
  presence.inside = next.length > 0 ? next : NONE;

  if (exited !== null) {
    exited.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [id, since] of exited) emit(events, vehicleId, 'geofence_exit', view, id, index?.get(id)?.name, since);
  }
  if (entered !== null) {
    entered.sort(([a], [b]) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const [f, since] of entered) emit(events, vehicleId, 'geofence_enter', view, f.id, f.name, since);
  }
}

function emit(events: VehicleEvent[], vehicleId: string, type: 'geofence_enter' | 'geofence_exit', v: VehicleView, geofenceId: string, name: string | undefined, since: number): void {
  // ts is the point that fired it (after the dwell); since is the first point of the change.
  events.push({
    id: geofenceEventId(vehicleId, type, v.ts, geofenceId), vehicleId, company: v.company, type, ts: v.ts, lat: v.lat, lon: v.lon,
    data: name === undefined ? { geofenceId, since } : { geofenceId, name, since },
  });
}
