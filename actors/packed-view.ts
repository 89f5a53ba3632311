import type { Attributes } from './domain/attributes.js';
import type { VehicleView } from './domain/vehicle-state.js';
import type { VehicleProfile } from './vehicle-logic.js';

/** Doubles per packed view: lat, lon, ts, speed, course, alt, ignition (1, 0), fuel, odometer, moving (1, 0); NaN: absent. */
const VIEW_NUMS = 10;

/**
 * A view as a reorder-window checkpoint keeps it: its numbers in one array of doubles, its
 * shared arrays and attributes beside them. Keeping the view object instead held it alive
 * after the live view had moved on: an object, its out-of-object property store and about ten
 * boxed numbers, per checkpoint of every resident vehicle. The reference fields (company,
 * name, plate, type) and the status are not kept: a rewind takes the live ones.
 */
export interface PackedView {
  /** Whether there was a view (a vehicle before its first point has none). */
  present: boolean;
  readonly viewNums: number[];
  attrs: Attributes | undefined;
  geofences: readonly string[] | undefined;
  alerts: readonly string[] | undefined;
}

export function newPackedView(): PackedView {
  // Doubles from the start and of its final length: one unboxed block without spare capacity.
  return { present: false, viewNums: new Array<number>(VIEW_NUMS).fill(0.5), attrs: undefined, geofences: undefined, alerts: undefined };
}

/** Copies `v` into `into` (reused: checkpoints are recycled). */
export function packViewInto(into: PackedView, v: VehicleView | null): void {
  if (v === null) {
    into.present = false;
    into.attrs = into.geofences = into.alerts = undefined;
    return;
  }
  const n = into.viewNums;
  n[0] = v.lat;
  n[1] = v.lon;
  n[2] = v.ts;
  n[3] = v.speed;
  n[4] = v.course ?? NaN;
  n[5] = v.alt ?? NaN;
  n[6] = v.ignition === undefined ? NaN : v.ignition ? 1 : 0;
  n[7] = v.fuel ?? NaN;
  n[8] = v.odometer ?? NaN;
  n[9] = v.moving ? 1 : 0;
  into.present = true;
  into.attrs = v.attrs;
  into.geofences = v.geofences;
  into.alerts = v.alerts;
}

/**
 * The packed view as a new view of `id`, with the profile's reference fields and `status`
 * (null: there was no view). Fields in the order applyPoint adds them, so both make views of
 * the same hidden classes.
 */
export function unpackView(p: PackedView, id: string, profile: VehicleProfile, status: VehicleView['status']): VehicleView | null {
  if (!p.present) return null;
  const n = p.viewNums;
  const view: VehicleView = { id, company: profile.company, lat: n[0], lon: n[1], ts: n[2], speed: n[3], moving: n[9] === 1 };
  if (profile.name !== undefined) view.name = profile.name;
  if (profile.plate !== undefined) view.plate = profile.plate;
  if (profile.type !== undefined) view.type = profile.type;
  if (!Number.isNaN(n[4])) view.course = n[4];
  if (!Number.isNaN(n[5])) view.alt = n[5];
  if (!Number.isNaN(n[6])) view.ignition = n[6] === 1;
  if (!Number.isNaN(n[8])) view.odometer = n[8];
  if (status !== undefined) view.status = status;
  if (p.geofences !== undefined) view.geofences = p.geofences;
  if (!Number.isNaN(n[7])) view.fuel = n[7];
  if (p.attrs !== undefined) view.attrs = p.attrs;
  if (p.alerts !== undefined) view.alerts = p.alerts;
  return view;
}
