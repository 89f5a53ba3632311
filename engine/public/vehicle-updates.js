/* Keeps the vehicle store in step with the stream's snap, d and gone frames. */

import { colourIndex, markLegendDirty } from './company-legend.js';
import { stats } from './live-stats.js';
import { log } from './message-log.js';
import { fitFirstSnapshot } from './navigation.js';
import { clamp, mercX, mercY } from './projection.js';
import { requestRender } from './render-loop.js';
import { dropHover, hoverId, markDetailsDirty, selectedId } from './vehicle-details.js';
import { vehicles } from './vehicles.js';

function project(v) {
  if (typeof v.lat === 'number' && typeof v.lon === 'number' && Number.isFinite(v.lat) && Number.isFinite(v.lon)) {
    v.mx = mercX(clamp(v.lon, -180, 180));
    v.my = mercY(v.lat);
  } else {
    v.mx = NaN;
    v.my = NaN;
  }
}

function addVehicle(src) {
  const v = Object.assign({}, src);
  v.ci = colourIndex(v.company);
  project(v);
  vehicles.set(v.id, v);
  return v;
}

export function applySnap(msg) {
  const list = Array.isArray(msg.vehicles) ? msg.vehicles : [];
  vehicles.clear();
  for (const src of list) if (src && typeof src.id === 'string') addVehicle(src);
  log(`snapshot: ${vehicles.size} vehicles${msg.seq !== undefined ? ` (seq ${msg.seq})` : ''}`);
  fitFirstSnapshot();
  markDetailsDirty();
  markLegendDirty();
  requestRender();
}

export function applyDelta(msg) {
  const u = Array.isArray(msg.u) ? msg.u : [];
  let maxTs = -Infinity;
  for (const d of u) {
    if (!d || typeof d.id !== 'string') continue;
    if (typeof d.ts === 'number' && d.ts > maxTs) maxTs = d.ts;
    const v = vehicles.get(d.id);
    if (v === undefined) {
      addVehicle(d); // a delta for an unknown id carries the full view
      continue;
    }
    let moved = false;
    for (const k in d) {
      if (k === 'lat' || k === 'lon') moved = true;
      else if (k === 'company') {
        v.ci = colourIndex(d.company);
      }
      v[k] = d[k];
    }
    if (moved) project(v);
    if (d.id === hoverId || d.id === selectedId) markDetailsDirty();
  }
  stats.updatesInWindow += u.length;
  if (maxTs > 0) {
    stats.lastLatency = Date.now() - maxTs;
    stats.avgLatency = stats.avgLatency === null ? stats.lastLatency : stats.avgLatency * 0.9 + stats.lastLatency * 0.1;
  }
  if (u.length > 0) requestRender();
}

export function applyGone(msg) {
  const ids = Array.isArray(msg.ids) ? msg.ids : [];
  for (const id of ids) {
    vehicles.delete(id);
    if (id === hoverId) dropHover();
  }
  stats.updatesInWindow += ids.length;
  if (ids.length > 0) {
    markDetailsDirty();
    requestRender();
  }
}
