import { canvas } from './page-elements.js';
import { clamp, latOf, lonOf, MAX_ZOOM, MIN_ZOOM, mercX, mercY, TILE } from './projection.js';
import { requestRender } from './render-loop.js';

export const DEFAULT_VIEW = { lat: 52.52, lon: 13.405, zoom: 11 };
/** Map centre in Mercator units (0..1) and zoom. */
export const view = { cx: 0, cy: 0, zoom: DEFAULT_VIEW.zoom };
// The canvas size in CSS px and the device pixel ratio: written by resize() only.
export let cssW = 0;
export let cssH = 0;
export let dpr = 1;

export function worldPx() {
  return TILE * Math.pow(2, view.zoom);
}
export function setCenter(lat, lon) {
  view.cx = mercX(clamp(lon, -180, 180));
  view.cy = mercY(lat);
}
export function clampView() {
  view.zoom = clamp(view.zoom, MIN_ZOOM, MAX_ZOOM);
  view.cx = clamp(view.cx, 0, 1);
  view.cy = clamp(view.cy, 0, 1);
}

/** The viewport as [west, south, east, north], clamped to valid coordinates. */
export function viewportBbox() {
  const S = worldPx();
  const w = lonOf(clamp(view.cx - cssW / 2 / S, 0, 1));
  const e = lonOf(clamp(view.cx + cssW / 2 / S, 0, 1));
  const n = latOf(clamp(view.cy - cssH / 2 / S, 0, 1));
  const s = latOf(clamp(view.cy + cssH / 2 / S, 0, 1));
  const r = (v) => Math.round(v * 1e6) / 1e6;
  return [r(w), r(s), r(e), r(n)];
}

/** Where a vehicle is drawn now (px/py: its position part-way through a glide), in CSS px. */
export function screenOf(v) {
  const S = worldPx();
  const mx = v.px === v.px ? v.px : v.mx;
  const my = v.py === v.py ? v.py : v.my;
  return { x: (mx - view.cx) * S + cssW / 2, y: (my - view.cy) * S + cssH / 2 };
}

export function resize() {
  const r = canvas.getBoundingClientRect();
  cssW = Math.max(1, r.width);
  cssH = Math.max(1, r.height);
  dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  requestRender();
}

// The URL hash keeps the view (#zoom/lat/lon), so a reload or a shared link shows the same place.
let hashTimer = 0;
export function scheduleHashUpdate() {
  window.clearTimeout(hashTimer);
  hashTimer = window.setTimeout(() => {
    const h = `#${view.zoom.toFixed(2)}/${latOf(view.cy).toFixed(5)}/${lonOf(view.cx).toFixed(5)}`;
    if (location.hash !== h) window.history.replaceState(null, '', h);
  }, 400);
}

export function readHash() {
  const m = /^#(-?[\d.]+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(location.hash);
  if (!m) return false;
  const [z, lat, lon] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (![z, lat, lon].every(Number.isFinite)) return false;
  view.zoom = z;
  setCenter(lat, lon);
  clampView();
  return true;
}
