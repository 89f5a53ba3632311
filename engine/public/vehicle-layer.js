/* The vehicles on the map: markers, names at street level, highlight rings, and hit-testing. */

import { colourOf, PALETTE } from './company-legend.js';
import { K_MOVING, K_PARKED, K_STOPPED, ROT_STEP, ROT_STEPS, sprite } from './marker-sprites.js';
import { clamp } from './projection.js';
import { hoverId, selectedId } from './vehicle-details.js';
import { vehicles } from './vehicles.js';
import { cssH, cssW, dpr, screenOf, view, worldPx } from './viewport.js';

const STALE_MS = 5 * 60_000;
// a stale vehicle (no point for STALE_MS) uses kind + STALE, drawn first and faded
const STALE = 3;
const KINDS = 6;
/** More markers on screen than this are drawn as squares (drawDots). */
const DENSE_MARKERS = 4000;
const DRAW_ORDER = [K_PARKED + STALE, K_STOPPED + STALE, K_MOVING + STALE, K_PARKED, K_STOPPED, K_MOVING];

// hit-test arrays filled by drawVehicles()
let hitN = 0;
let hitX = new Float32Array(1024);
let hitY = new Float32Array(1024);
const hitV = [];
let markerSize = 5;
/** Vehicles drawn in the last frame (on screen, with a position). */
export let visibleCount = 0;

// reused per frame: groups[ci * KINDS + kind] = flat [x, y, courseRad, …]
let groups = [];

/** Draws the markers where they are now (gliding ones part-way); returns whether any is still gliding. */
export function drawVehicles(ctx) {
  const tNow = performance.now();
  let gliding = false;
  const S = worldPx();
  const hw = cssW / 2;
  const hh = cssH / 2;
  const cx = view.cx;
  const cy = view.cy;
  const now = Date.now();
  const size = clamp(2.6 + (view.zoom - 9) * 0.75, 2.6, 7.5);
  markerSize = size;
  const margin = size * 2;
  const nGroups = (PALETTE.length + 1) * KINDS;
  if (groups.length !== nGroups) groups = Array.from({ length: nGroups }, () => []);
  for (const g of groups) g.length = 0;

  if (hitX.length < vehicles.size) {
    hitX = new Float32Array(vehicles.size * 2);
    hitY = new Float32Array(vehicles.size * 2);
  }
  hitN = 0;
  hitV.length = 0;
  for (const v of vehicles.values()) {
    let mx = v.mx;
    if (!(mx === mx)) continue; // NaN: no position
    let my = v.my;
    const k = v.glideMs > 0 ? (tNow - v.movedAt) / v.glideMs : 1;
    if (k < 1) {
      mx = v.ax + (mx - v.ax) * k;
      my = v.ay + (my - v.ay) * k;
      gliding = true;
    }
    v.px = mx;
    v.py = my;
    const px = (mx - cx) * S + hw;
    const py = (my - cy) * S + hh;
    if (px < -margin || py < -margin || px > cssW + margin || py > cssH + margin) continue;
    let kind = v.moving ? K_MOVING : v.ignition === false ? K_PARKED : K_STOPPED;
    if (!(now - v.ts <= STALE_MS)) kind += STALE;
    groups[v.ci * KINDS + kind].push(px, py, typeof v.course === 'number' ? (v.course * Math.PI) / 180 : NaN);
    hitX[hitN] = px;
    hitY[hitN] = py;
    hitV[hitN] = v;
    hitN++;
  }
  visibleCount = hitN;

  if (hitN > DENSE_MARKERS) drawDots(ctx, size);
  else drawSprites(ctx, size);
  ctx.globalAlpha = 1;

  // names at street level
  if (view.zoom >= 15 && hitN <= 250) {
    ctx.font = '11px system-ui, "DejaVu Sans", sans-serif';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.lineWidth = 3;
    ctx.strokeStyle = 'rgba(255,255,255,0.9)';
    ctx.fillStyle = '#333';
    for (let i = 0; i < hitN; i++) {
      const v = hitV[i];
      const label = v.name || v.id;
      ctx.strokeText(label, hitX[i] + size * 1.8, hitY[i]);
      ctx.fillText(label, hitX[i] + size * 1.8, hitY[i]);
    }
  }
  return gliding;
}

// Markers are blitted from pre-rendered sprites (one per colour, kind and 5° of course):
// one unscaled drawImage per vehicle rasterises faster than filling and stroking one path per
// colour (~30% in software canvas, more with GPU canvas), and costs little JS.
function drawSprites(ctx, size) {
  for (const kind of DRAW_ORDER) {
    const base = kind % STALE;
    ctx.globalAlpha = kind >= STALE ? 0.35 : 1;
    for (let ci = 0; ci <= PALETTE.length; ci++) {
      const arr = groups[ci * KINDS + kind];
      if (arr.length === 0) continue;
      const sp = sprite(ci, base, size);
      const cellPx = sp.cellPx;
      const cell = sp.cell;
      const half = cell / 2;
      const img = sp.canvas;
      for (let i = 0; i < arr.length; i += 3) {
        const rad = arr[i + 2];
        let k = 0;
        if (base === K_MOVING) k = rad === rad ? Math.round(rad / ROT_STEP) % ROT_STEPS : ROT_STEPS;
        // whole device pixels: an unscaled copy, much cheaper than resampling
        const dx = Math.round((arr[i] - half) * dpr) / dpr;
        const dy = Math.round((arr[i + 1] - half) * dpr) / dpr;
        ctx.drawImage(img, k * cellPx, 0, cellPx, cellPx, dx, dy, cell, cell);
      }
    }
  }
}

// Past DENSE_MARKERS on screen, a drawImage per vehicle costs too much in a software canvas
// (10k sprites: ~60 ms a frame on this project's 2-core machine, against ~9 ms for squares), and
// at the zoom that shows so many the arrows are a few pixels wide anyway: one path of squares per
// colour and kind, filled once (stopped ones smaller, parked ones faded).
function drawDots(ctx, size) {
  for (const kind of DRAW_ORDER) {
    const base = kind % STALE;
    const stale = kind >= STALE;
    const half = base === K_MOVING ? size * 0.55 : size * 0.4;
    ctx.globalAlpha = (stale ? 0.35 : 1) * (base === K_PARKED ? 0.5 : 1);
    for (let ci = 0; ci <= PALETTE.length; ci++) {
      const arr = groups[ci * KINDS + kind];
      if (arr.length === 0) continue;
      ctx.fillStyle = colourOf(ci);
      ctx.beginPath();
      for (let i = 0; i < arr.length; i += 3) ctx.rect(arr[i] - half, arr[i + 1] - half, half * 2, half * 2);
      ctx.fill();
    }
  }
}

export function drawHighlights(ctx) {
  for (const [id, colour, width] of [
    [selectedId, '#111', 2],
    [hoverId, 'rgba(17,17,17,0.55)', 1.5],
  ]) {
    if (id === null) continue;
    const v = vehicles.get(id);
    if (!v || !(v.px === v.px)) continue;
    const p = screenOf(v);
    ctx.beginPath();
    ctx.arc(p.x, p.y, markerSize * 2.1 + 2, 0, Math.PI * 2);
    ctx.lineWidth = width;
    ctx.strokeStyle = colour;
    ctx.stroke();
  }
}

export function hitTest(x, y) {
  const r = Math.max(8, markerSize * 1.9);
  let best = null;
  let bestD = r * r;
  for (let i = hitN - 1; i >= 0; i--) {
    const dx = hitX[i] - x;
    const dy = hitY[i] - y;
    const d = dx * dx + dy * dy;
    if (d <= bestD) {
      bestD = d;
      best = hitV[i];
    }
  }
  return best;
}
