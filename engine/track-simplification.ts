import simplify from 'simplify-js';

const EARTH_RADIUS_M = 6_371_008.8;
const RAD = Math.PI / 180;
/** Douglas–Peucker recurses; a run this long can never exhaust the stack (~10k frames). */
const SAFE_RUN = 2000;

interface IndexedPoint {
  x: number;
  y: number;
  readonly i: number;
}

/**
 * The indexes of the points Douglas–Peucker (simplify-js, highest quality: no radial pre-pass)
 * keeps, in order, with the tolerance in metres: every dropped point lies within `toleranceM` of
 * the kept polyline. Coordinates are projected to metres on a local equirectangular plane around
 * the track's middle latitude (longitudes unwrapped across the antimeridian), exact for a city
 * and within a few per cent over a track hundreds of kilometres tall.
 */
export function simplifyTrack(lat: Float64Array, lon: Float64Array, toleranceM: number): Uint32Array {
  const n = lat.length;
  if (n <= 2 || toleranceM <= 0) return Uint32Array.from({ length: n }, (_, i) => i);
  const points = project(lat, lon);
  let kept: IndexedPoint[];
  try {
    kept = simplify(points, toleranceM, true) as IndexedPoint[];
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    kept = simplifyInRuns(points, toleranceM);
  }
  return Uint32Array.from(kept, (p) => p.i);
}

function project(lat: Float64Array, lon: Float64Array): IndexedPoint[] {
  let minLat = Infinity;
  let maxLat = -Infinity;
  for (const v of lat) {
    if (v < minLat) minLat = v;
    if (v > maxLat) maxLat = v;
  }
  const kx = EARTH_RADIUS_M * RAD * Math.cos(((minLat + maxLat) / 2) * RAD);
  const ky = EARTH_RADIUS_M * RAD;
  const points = new Array<IndexedPoint>(lat.length);
  let shift = 0;
  for (let i = 0; i < lat.length; i++) {
    if (i > 0) {
      const jump = lon[i] - lon[i - 1];
      if (jump > 180) shift -= 360;
      else if (jump < -180) shift += 360;
    }
    points[i] = { x: (lon[i] + shift) * kx, y: lat[i] * ky, i };
  }
  return points;
}

/**
 * A degenerate track (a point far off each chord, again and again) recursed too deep: simplify
 * consecutive runs that share their end points. Each run keeps its points within the tolerance
 * of its own part of the polyline, so the whole still does.
 */
function simplifyInRuns(points: IndexedPoint[], toleranceM: number): IndexedPoint[] {
  const out: IndexedPoint[] = [];
  for (let start = 0; start < points.length - 1; start += SAFE_RUN) {
    const run = simplify(points.slice(start, Math.min(start + SAFE_RUN + 1, points.length)), toleranceM, true) as IndexedPoint[];
    for (let k = out.length === 0 ? 0 : 1; k < run.length; k++) out.push(run[k]);
  }
  return out;
}
