/*
 * Keeps the map's markers in step with the SDK's vehicle map, once per animation frame: the
 * renderer calls applyChanges() before it draws, with the ids the SDK saw change since the last
 * frame (client.takeChanges()), so however many frames arrive in between, each changed vehicle is
 * touched once and the rest of the layer is left as it is.
 *
 * A marker glides from where it is drawn to its new position over the time since its previous
 * update (at most MAX_GLIDE_MS), so vehicles move smoothly between reports.
 */

import { colourIndex, markLegendDirty } from './company-legend.js';
import { fitFirstSnapshot } from './navigation.js';
import { clamp, mercX, mercY } from './projection.js';
import { dropHover, hoverId, markDetailsDirty, selectedId } from './vehicle-details.js';
import { vehicles } from './vehicles.js';

const MAX_GLIDE_MS = 1500;

function project(m, now) {
  const hasPos = typeof m.lat === 'number' && typeof m.lon === 'number' && Number.isFinite(m.lat) && Number.isFinite(m.lon);
  const mx = hasPos ? mercX(clamp(m.lon, -180, 180)) : NaN;
  const my = hasPos ? mercY(m.lat) : NaN;
  if (mx === m.mx && my === m.my) return;
  const wasDrawn = m.mx === m.mx && m.px === m.px;
  // glide from the position drawn now to the new one
  m.ax = wasDrawn ? m.px : mx;
  m.ay = wasDrawn ? m.py : my;
  m.glideMs = wasDrawn ? Math.min(MAX_GLIDE_MS, Math.max(0, now - m.movedAt)) : 0;
  m.movedAt = now;
  m.mx = mx;
  m.my = my;
}

/** Applies the SDK's changes since the last frame; returns whether anything changed. */
export function applyChanges(client) {
  const { upserted, removed } = client.takeChanges();
  if (upserted.size === 0 && removed.size === 0) return false;
  const now = performance.now();
  const wasEmpty = vehicles.size === 0;
  let added = false;
  for (const id of removed) {
    vehicles.delete(id);
    if (id === hoverId) dropHover();
  }
  for (const id of upserted) {
    const state = client.vehicles.get(id);
    if (state === undefined) continue;
    let m = vehicles.get(id);
    const isNew = m === undefined;
    if (isNew) {
      m = { mx: NaN, my: NaN, px: NaN, py: NaN, ax: NaN, ay: NaN, glideMs: 0, movedAt: now, ci: 0 };
      vehicles.set(id, m);
      added = true;
    }
    const company = m.company;
    Object.assign(m, state);
    if (isNew || company !== m.company) m.ci = colourIndex(m.company);
    project(m, now);
  }
  if (upserted.has(hoverId) || upserted.has(selectedId) || removed.size > 0) markDetailsDirty();
  if (added || removed.size > 0) markLegendDirty();
  if (wasEmpty && vehicles.size > 0) fitFirstSnapshot();
  return true;
}

/** Forgets every marker (a new client starts from its own snapshot). */
export function clearVehicles() {
  vehicles.clear();
  dropHover();
  markLegendDirty();
}
