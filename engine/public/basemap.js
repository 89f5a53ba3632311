/*
 * The procedural basemap (no tiles): a graticule whose spacing follows the zoom, labelled in
 * degrees, and the scale bar with the view's zoom and centre.
 */

import { fmtDeg } from './format.js';
import { clamp, latOf, lonOf, mercX, mercY } from './projection.js';
import { cssH, cssW, view, worldPx } from './viewport.js';

const GRID_STEPS = [45, 30, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001, 0.00005];

function gridStep(degPerPx, targetPx) {
  const want = degPerPx * targetPx;
  let step = GRID_STEPS[0];
  for (const s of GRID_STEPS) if (s >= want) step = s;
  return step;
}
function minorOf(step) {
  const mant = step / Math.pow(10, Math.floor(Math.log10(step) + 1e-9));
  return step / (Math.round(mant) === 2 ? 4 : 5);
}
function decimalsOf(step) {
  return step >= 1 ? 0 : Math.ceil(-Math.log10(step) - 1e-9);
}

export function drawBasemap(ctx) {
  const S = worldPx();
  const hw = cssW / 2;
  const hh = cssH / 2;
  const x = (mx) => (mx - view.cx) * S + hw;
  const y = (my) => (my - view.cy) * S + hh;

  // land / outside the Mercator world
  ctx.fillStyle = '#dde2e6';
  ctx.fillRect(0, 0, cssW, cssH);
  const x0 = Math.max(0, x(0));
  const x1 = Math.min(cssW, x(1));
  const y0 = Math.max(0, y(0));
  const y1 = Math.min(cssH, y(1));
  ctx.fillStyle = '#f3f1ec';
  ctx.fillRect(x0, y0, x1 - x0, y1 - y0);

  const west = lonOf(clamp(view.cx - hw / S, 0, 1));
  const east = lonOf(clamp(view.cx + hw / S, 0, 1));
  const north = latOf(clamp(view.cy - hh / S, 0, 1));
  const south = latOf(clamp(view.cy + hh / S, 0, 1));
  const centerLat = latOf(view.cy);
  const lonStep = gridStep(360 / S, 110);
  const latStep = gridStep((360 / S) * Math.cos((centerLat * Math.PI) / 180), 110);

  // minor lines
  ctx.lineWidth = 1;
  ctx.strokeStyle = '#e7e4dd';
  ctx.beginPath();
  const lonMinor = minorOf(lonStep);
  const latMinor = minorOf(latStep);
  if ((lonMinor / 360) * S >= 14) {
    for (let lon = Math.ceil(west / lonMinor) * lonMinor; lon <= east; lon += lonMinor) {
      const px = Math.round(x(mercX(lon))) + 0.5;
      ctx.moveTo(px, y0);
      ctx.lineTo(px, y1);
    }
  }
  if ((latMinor / 360) * S * Math.cos((centerLat * Math.PI) / 180) >= 14) {
    for (let lat = Math.ceil(south / latMinor) * latMinor; lat <= north; lat += latMinor) {
      const py = Math.round(y(mercY(lat))) + 0.5;
      ctx.moveTo(x0, py);
      ctx.lineTo(x1, py);
    }
  }
  ctx.stroke();

  // major lines
  ctx.strokeStyle = '#cfcac0';
  ctx.beginPath();
  const lonLines = [];
  const latLines = [];
  for (let i = Math.ceil(west / lonStep); i * lonStep <= east; i++) {
    const lon = i * lonStep;
    const px = Math.round(x(mercX(lon))) + 0.5;
    lonLines.push([lon, px]);
    ctx.moveTo(px, y0);
    ctx.lineTo(px, y1);
  }
  for (let i = Math.ceil(south / latStep); i * latStep <= north; i++) {
    const lat = i * latStep;
    const py = Math.round(y(mercY(lat))) + 0.5;
    latLines.push([lat, py]);
    ctx.moveTo(x0, py);
    ctx.lineTo(x1, py);
  }
  ctx.stroke();

  // equator and prime meridian a little stronger
  ctx.strokeStyle = '#b9b3a7';
  ctx.beginPath();
  if (west <= 0 && east >= 0) {
    const px = Math.round(x(mercX(0))) + 0.5;
    ctx.moveTo(px, y0);
    ctx.lineTo(px, y1);
  }
  if (south <= 0 && north >= 0) {
    const py = Math.round(y(mercY(0))) + 0.5;
    ctx.moveTo(x0, py);
    ctx.lineTo(x1, py);
  }
  ctx.stroke();

  // labels: longitudes along the top, latitudes along the right edge
  ctx.font = '11px system-ui, "DejaVu Sans", sans-serif';
  ctx.lineJoin = 'round';
  ctx.lineWidth = 3;
  ctx.strokeStyle = 'rgba(243,241,236,0.95)';
  ctx.fillStyle = '#8a8478';
  ctx.textBaseline = 'top';
  ctx.textAlign = 'center';
  const lonDec = decimalsOf(lonStep);
  for (const [lon, px] of lonLines) {
    if (px < 60 || px > cssW - 30) continue;
    const label = fmtDeg(lon, 'E', 'W', lonDec);
    ctx.strokeText(label, px, 4);
    ctx.fillText(label, px, 4);
  }
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  const latDec = decimalsOf(latStep);
  for (const [lat, py] of latLines) {
    if (py < 24 || py > cssH - 40) continue;
    const label = fmtDeg(lat, 'N', 'S', latDec);
    ctx.strokeText(label, cssW - 5, py - 7);
    ctx.fillText(label, cssW - 5, py - 7);
  }
}

export function drawScaleBar(ctx) {
  const S = worldPx();
  const lat = latOf(view.cy);
  const mPerPx = (40075016.686 * Math.cos((lat * Math.PI) / 180)) / S;
  const maxPx = 130;
  const maxM = mPerPx * maxPx;
  const pow = Math.pow(10, Math.floor(Math.log10(maxM)));
  let m = pow;
  for (const f of [5, 2, 1]) {
    if (f * pow <= maxM) {
      m = f * pow;
      break;
    }
  }
  const px = m / mPerPx;
  const x0 = 14;
  const y0 = cssH - 22;
  ctx.fillStyle = 'rgba(255,255,255,0.8)';
  ctx.fillRect(x0 - 6, y0 - 28, Math.max(px, 150) + 16, 40);
  ctx.fillStyle = '#333';
  ctx.fillRect(x0, y0, px / 2, 4);
  ctx.fillStyle = '#fff';
  ctx.fillRect(x0 + px / 2, y0, px / 2, 4);
  ctx.strokeStyle = '#333';
  ctx.lineWidth = 1;
  ctx.strokeRect(x0 + 0.5, y0 + 0.5, px, 4);
  ctx.font = '11px system-ui, "DejaVu Sans", sans-serif';
  ctx.textBaseline = 'bottom';
  ctx.textAlign = 'left';
  ctx.fillStyle = '#333';
  const label = m >= 1000 ? `${m / 1000} km` : `${m} m`;
  ctx.fillText(label, x0, y0 - 2);
  ctx.fillStyle = '#6b7785';
  const lon = lonOf(view.cx);
  ctx.fillText(`z ${view.zoom.toFixed(1)} · ${fmtDeg(lat, 'N', 'S', 4)} ${fmtDeg(lon, 'E', 'W', 4)}`, x0, y0 - 15);
}
