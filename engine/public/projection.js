/* Web Mercator: lon/lat ↔ world coordinates in 0..1 (x east, y south). */

export const TILE = 256;
export const MIN_ZOOM = 2;
export const MAX_ZOOM = 19;
const MAX_LAT = 85.05112878;

export function clamp(v, lo, hi) {
  return v < lo ? lo : v > hi ? hi : v;
}
export function mercX(lon) {
  return (lon + 180) / 360;
}
export function mercY(lat) {
  const r = (clamp(lat, -MAX_LAT, MAX_LAT) * Math.PI) / 180;
  return (1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2;
}
export function lonOf(mx) {
  return mx * 360 - 180;
}
export function latOf(my) {
  return (Math.atan(Math.sinh(Math.PI * (1 - 2 * my))) * 180) / Math.PI;
}
