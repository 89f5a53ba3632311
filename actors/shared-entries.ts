import type { VehicleDelta, VehicleView } from './domain/vehicle-state.js';
import type { Update } from './delivery-hub.js';
import type { FrameEncoder } from './ports/frame-encoder.js';
import { projectDelta, projectView, type PayloadFields } from './subscription.js';

/** How an update appears in a `d` frame: its delta, or the whole view (a vehicle the client had not seen), in min or full form. */
export type EntryForm = 'delta-min' | 'delta-full' | 'view-min' | 'view-full';

/**
 * What the subscribers of one update share: its projections and their encoded bytes, made by
 * the first subscriber that needs each form. The hub hands the same Update object to every
 * subscriber, so N clients receiving a change cost one encode and N copies.
 */
export interface EntryCache {
  minDelta?: VehicleDelta | null;
  bytes?: Partial<Record<EntryForm, Uint8Array>>;
}

export function formOf(entering: boolean, fields: PayloadFields): EntryForm {
  return entering ? (fields === 'min' ? 'view-min' : 'view-full') : (fields === 'min' ? 'delta-min' : 'delta-full');
}

/** The update's delta as a `fields` subscriber receives it (null: nothing it receives changed); computed once per update. */
export function sharedDelta(u: Update, fields: PayloadFields): VehicleDelta | null {
  if (u.delta === null) return null;
  if (fields === 'full') return u.delta;
  const cache = (u.wire ??= {});
  if (cache.minDelta === undefined) cache.minDelta = projectDelta(u.delta, 'min');
  return cache.minDelta;
}

/** The value of an update's entry in `form`. */
export function entryValue(u: Update, form: EntryForm): VehicleView | VehicleDelta | null {
  switch (form) {
    case 'delta-min': return sharedDelta(u, 'min');
    case 'delta-full': return u.delta;
    case 'view-min': return u.view === null ? null : projectView(u.view, 'min');
    case 'view-full': return u.view;
  }
}

/** The encoded bytes of an update's entry in `form`, encoded on first use and shared after. */
export function sharedEntryBytes(u: Update, form: EntryForm, encoder: FrameEncoder): Uint8Array {
  const cache = (u.wire ??= {});
  const bytes = (cache.bytes ??= {});
  return (bytes[form] ??= encoder.entry(entryValue(u, form)));
}
