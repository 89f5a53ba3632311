/**
 * Geofences: areas of a company that vehicles enter and leave. Coordinates are GeoJSON's
 * `[lon, lat]` in degrees; distances in metres. A shape that crosses the antimeridian (±180°)
 * is not supported: split it into one shape on each side.
 */

export type LonLat = readonly [lon: number, lat: number];

export type GeofenceShape =
  /** GeoJSON Polygon coordinates: the outer ring, then holes. A ring need not repeat its first point. */
  | { readonly type: 'polygon'; readonly coordinates: readonly (readonly LonLat[])[] }
  | { readonly type: 'circle'; readonly center: LonLat; readonly radius: number }
  /** A road or a route: every position within width / 2 of the polyline. */
  | { readonly type: 'corridor'; readonly coordinates: readonly LonLat[]; readonly width: number };

export interface Geofence {
  readonly id: string;
  readonly companyId: string;
  readonly name: string;
  readonly shape: GeofenceShape;
  /** km/h; while a vehicle is inside, it replaces the vehicle's own limit. */
  readonly speedLimit?: number;
  /** Seconds a vehicle must stay inside (or outside) before enter (exit) fires; default GEOFENCE_DWELL_S. */
  readonly dwellS?: number;
}

export interface Bounds {
  readonly minX: number;
  readonly minY: number;
  readonly maxX: number;
  readonly maxY: number;
}

const EARTH_RADIUS_M = 6_371_008.8;
const RAD = Math.PI / 180;
const M_PER_DEG_LAT = EARTH_RADIUS_M * RAD;

/** Great-circle distance in metres. */
export function distanceM(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const dLat = (lat2 - lat1) * RAD;
  const dLon = (lon2 - lon1) * RAD;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Metres per degree of longitude at a latitude (never 0, so a box near a pole stays finite). */
function mPerDegLon(lat: number): number {
  return Math.max(1, M_PER_DEG_LAT * Math.cos(lat * RAD));
}

/** The bounding box of a shape in degrees (x = lon, y = lat), for the spatial index. */
export function shapeBounds(shape: GeofenceShape): Bounds {
  if (shape.type === 'circle') {
    const [lon, lat] = shape.center;
    const dLat = shape.radius / M_PER_DEG_LAT;
    const dLon = shape.radius / mPerDegLon(Math.min(89.9, Math.abs(lat) + dLat));
    return { minX: lon - dLon, minY: lat - dLat, maxX: lon + dLon, maxY: lat + dLat };
  }
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const rings = shape.type === 'polygon' ? shape.coordinates.slice(0, 1) : [shape.coordinates];
  for (const ring of rings) {
    for (const [x, y] of ring) {
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  if (shape.type === 'corridor') {
    const half = shape.width / 2;
    const dLat = half / M_PER_DEG_LAT;
    const dLon = half / mPerDegLon(Math.min(89.9, Math.max(Math.abs(minY), Math.abs(maxY)) + dLat));
    return { minX: minX - dLon, minY: minY - dLat, maxX: maxX + dLon, maxY: maxY + dLat };
  }
  return { minX, minY, maxX, maxY };
}

/** Whether (lat, lon) is inside the shape. A point exactly on a polygon's edge or a circle's rim is inside. */
export function shapeContains(shape: GeofenceShape, lat: number, lon: number): boolean {
  switch (shape.type) {
    case 'circle':
      return distanceM(lat, lon, shape.center[1], shape.center[0]) <= shape.radius;
    case 'polygon':
      return polygonContains(shape.coordinates, lat, lon);
    case 'corridor':
      return corridorContains(shape.coordinates, shape.width / 2, lat, lon);
  }
}

/** Even-odd rule over every ring (holes excluded), on the plane of lon/lat degrees. */
function polygonContains(rings: readonly (readonly LonLat[])[], y: number, x: number): boolean {
  let inside = false;
  for (const ring of rings) {
    const n = ring.length;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if (onSegment(x, y, xi, yi, xj, yj)) return true;
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

function onSegment(x: number, y: number, x1: number, y1: number, x2: number, y2: number): boolean {
  if (x < Math.min(x1, x2) || x > Math.max(x1, x2) || y < Math.min(y1, y2) || y > Math.max(y1, y2)) return false;
  return (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1) === 0;
}

/**
 * Distance to the polyline on a local equirectangular plane around the point: exact enough for
 * corridors (an error well under a metre for segments of a few kilometres).
 */
function corridorContains(line: readonly LonLat[], halfWidth: number, lat: number, lon: number): boolean {
  const kx = mPerDegLon(lat);
  const limit = halfWidth * halfWidth;
  for (let i = 0; i < line.length; i++) {
    const ax = (line[i][0] - lon) * kx;
    const ay = (line[i][1] - lat) * M_PER_DEG_LAT;
    if (i === line.length - 1) {
      if (line.length === 1) return ax * ax + ay * ay <= limit;
      break;
    }
    const bx = (line[i + 1][0] - lon) * kx;
    const by = (line[i + 1][1] - lat) * M_PER_DEG_LAT;
    // The point is the origin: distance from (0, 0) to segment a-b.
    const dx = bx - ax;
    const dy = by - ay;
    const len2 = dx * dx + dy * dy;
    const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len2));
    const px = ax + t * dx;
    const py = ay + t * dy;
    if (px * px + py * py <= limit) return true;
  }
  return false;
}

const isLonLat = (v: unknown): v is LonLat =>
  Array.isArray(v) && v.length >= 2 && typeof v[0] === 'number' && typeof v[1] === 'number'
  && v[0] >= -180 && v[0] <= 180 && v[1] >= -90 && v[1] <= 90;
const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/**
 * A shape from outside (fleet.reference, PostgreSQL, a fleet file), or null when it is not one.
 * Also takes the bare ring or ring list a `polygon` column held before shapes had a type.
 */
export function parseGeofenceShape(raw: unknown): GeofenceShape | null {
  if (Array.isArray(raw)) return parseGeofenceShape({ type: 'polygon', coordinates: isLonLat(raw[0]) ? [raw] : raw });
  if (typeof raw !== 'object' || raw === null) return null;
  const o = raw as Record<string, unknown>;
  if (o.type === 'circle') {
    return isLonLat(o.center) && positive(o.radius) ? { type: 'circle', center: [o.center[0], o.center[1]], radius: o.radius } : null;
  }
  if (o.type === 'corridor') {
    const line = o.coordinates;
    if (!Array.isArray(line) || line.length < 1 || !line.every(isLonLat) || !positive(o.width)) return null;
    return { type: 'corridor', coordinates: line.map((p: LonLat): LonLat => [p[0], p[1]]), width: o.width };
  }
  if (o.type === 'polygon') {
    const rings = o.coordinates;
    if (!Array.isArray(rings) || rings.length < 1) return null;
    if (!rings.every((r) => Array.isArray(r) && r.length >= 3 && r.every(isLonLat))) return null;
    return { type: 'polygon', coordinates: (rings as LonLat[][]).map((r) => r.map((p): LonLat => [p[0], p[1]])) };
  }
  return null;
}

/** A geofence from a decoded record (fleet.reference value, fleet file entry), or null. */
export function parseGeofence(id: string, o: Record<string, unknown>): Geofence | null {
  const shape = parseGeofenceShape(o.shape ?? o.polygon);
  if (shape === null || typeof o.companyId !== 'string' || o.companyId.length === 0) return null;
  if (o.speedLimit !== undefined && o.speedLimit !== null && !positive(o.speedLimit)) return null;
  if (o.dwellS !== undefined && o.dwellS !== null && !(typeof o.dwellS === 'number' && o.dwellS >= 0 && Number.isFinite(o.dwellS))) return null;
  return {
    id, companyId: o.companyId, name: typeof o.name === 'string' ? o.name : id, shape,
    ...(typeof o.speedLimit === 'number' ? { speedLimit: o.speedLimit } : {}),
    ...(typeof o.dwellS === 'number' ? { dwellS: o.dwellS } : {}),
  };
}
