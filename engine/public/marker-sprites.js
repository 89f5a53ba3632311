/*
 * Vehicle markers, pre-rendered: one sprite strip per colour, kind and size, with one arrow per
 * 5° of course for moving vehicles. vehicle-layer.js blits them.
 */

import { colourOf } from './company-legend.js';
import { dpr } from './viewport.js';

// marker kinds
export const K_PARKED = 0; // stopped, ignition off
export const K_STOPPED = 1; // stopped, ignition on or unknown
export const K_MOVING = 2;

export const ROT_STEPS = 72;
export const ROT_STEP = (2 * Math.PI) / ROT_STEPS;
const sprites = new Map(); // `${ci}|${kind}|${size}|${dpr}` → {canvas, cell, cellPx}

/** A strip of marker images: for K_MOVING one arrow per 5° of course plus a diamond (no course). */
export function sprite(ci, kind, size) {
  const s = Math.round(size * 4) / 4;
  const key = `${ci}|${kind}|${s}|${dpr}`;
  let sp = sprites.get(key);
  if (sp) return sp;
  if (sprites.size > 2000) sprites.clear();
  const cellPx = Math.ceil((s * 3.6 + 4) * dpr);
  const cell = cellPx / dpr;
  const n = kind === K_MOVING ? ROT_STEPS + 1 : 1;
  const canvasEl = document.createElement('canvas');
  canvasEl.width = cellPx * n;
  canvasEl.height = cellPx;
  const g = canvasEl.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  for (let k = 0; k < n; k++) {
    g.beginPath();
    pathMarker(g, (k + 0.5) * cell, cell / 2, k < ROT_STEPS && kind === K_MOVING ? k * ROT_STEP : NaN, kind, s);
    paintMarker(g, kind, colourOf(ci));
  }
  sp = { canvas: canvasEl, cell, cellPx };
  sprites.set(key, sp);
  return sp;
}

function pathMarker(g, x, y, rad, kind, s) {
  if (kind === K_MOVING && rad === rad) {
    const c = Math.cos(rad);
    const n = Math.sin(rad);
    // arrow pointing north, rotated clockwise by the course: (px, py) → (px·c − py·n, px·n + py·c)
    const tipY = -1.6 * s;
    const backY = 1.1 * s;
    const notchY = 0.45 * s;
    const side = 1.05 * s;
    g.moveTo(x - tipY * n, y + tipY * c);
    g.lineTo(x + side * c - backY * n, y + side * n + backY * c);
    g.lineTo(x - notchY * n, y + notchY * c);
    g.lineTo(x - side * c - backY * n, y - side * n + backY * c);
    g.closePath();
  } else if (kind === K_MOVING) {
    // moving without a course: a diamond
    g.moveTo(x, y - 1.3 * s);
    g.lineTo(x + 1.3 * s, y);
    g.lineTo(x, y + 1.3 * s);
    g.lineTo(x - 1.3 * s, y);
    g.closePath();
  } else {
    const r = s * 0.72;
    g.moveTo(x + r, y);
    g.arc(x, y, r, 0, Math.PI * 2);
  }
}

function paintMarker(g, kind, colour) {
  if (kind === K_PARKED) {
    g.fillStyle = '#ffffff';
    g.fill();
    g.lineWidth = 1.6;
    g.strokeStyle = colour;
    g.stroke();
  } else {
    g.fillStyle = colour;
    g.fill();
    g.lineWidth = 0.9;
    g.strokeStyle = 'rgba(255,255,255,0.95)';
    g.stroke();
  }
}
