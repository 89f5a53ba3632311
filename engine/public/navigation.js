/* Changes of the view: pan and zoom, fitting the fleet, and what follows every change. */

import { el } from './page-elements.js';
import { clamp, MAX_ZOOM, MIN_ZOOM, TILE } from './projection.js';
import { requestRender } from './render-loop.js';
import { sendSubSoon } from './live-stream.js';
import { vehicles } from './vehicles.js';
import { clampView, cssH, cssW, DEFAULT_VIEW, readHash, scheduleHashUpdate, setCenter, view, worldPx } from './viewport.js';

let userMoved = false;
let fitDone = false;

/** The view at start: the one in the URL hash (the user's choice), else the default centre. */
export function initialView() {
  if (readHash()) userMoved = true;
  else setCenter(DEFAULT_VIEW.lat, DEFAULT_VIEW.lon);
}

export function onViewChanged(byUser) {
  if (byUser) userMoved = true;
  clampView();
  requestRender();
  scheduleHashUpdate();
  if (el.follow.checked) sendSubSoon();
}

export function zoomAt(px, py, newZoom) {
  newZoom = clamp(newZoom, MIN_ZOOM, MAX_ZOOM);
  const S0 = worldPx();
  const mx = view.cx + (px - cssW / 2) / S0;
  const my = view.cy + (py - cssH / 2) / S0;
  view.zoom = newZoom;
  const S1 = worldPx();
  view.cx = mx - (px - cssW / 2) / S1;
  view.cy = my - (py - cssH / 2) / S1;
  onViewChanged(true);
}

function fitAll() {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const v of vehicles.values()) {
    if (!(v.mx === v.mx)) continue;
    if (v.mx < x0) x0 = v.mx;
    if (v.mx > x1) x1 = v.mx;
    if (v.my < y0) y0 = v.my;
    if (v.my > y1) y1 = v.my;
  }
  if (x0 === Infinity) return;
  const pad = 40;
  const spanX = Math.max(x1 - x0, 1e-9);
  const spanY = Math.max(y1 - y0, 1e-9);
  const z = Math.log2(Math.min((cssW - 2 * pad) / (spanX * TILE), (cssH - 2 * pad) / (spanY * TILE)));
  view.zoom = clamp(Math.min(z, 16), MIN_ZOOM, MAX_ZOOM);
  view.cx = (x0 + x1) / 2;
  view.cy = (y0 + y1) / 2;
  onViewChanged(false);
}

/** The first snapshot frames the fleet, unless the user already chose a view. */
export function fitFirstSnapshot() {
  if (!fitDone && !userMoved && vehicles.size > 0) {
    fitDone = true;
    fitAll();
  }
}

/** The fit button: from then on the view is the user's choice. */
export function fitAllByUser() {
  userMoved = true;
  fitAll();
}
