import type { VehicleView } from '../actors/domain/vehicle-state.js';
import type { AttributeValue, OsmandPosition } from './osmand-decoder.js';

/** km/h per knot: Traccar's positions carry knots, Fleetline's km/h. */
const KNOT_KMH = 1.852;

/** validatePoint's highest speed (km/h). */
const MAX_SPEED_KMH = 2000;

/** An OsmAnd report is one small request; anything larger is refused (BODY_TOO_LARGE) before it is parsed. */
export const OSMAND_MAX_BODY_BYTES = 64 * 1024;

/**
 * The raw telemetry record (validated next by validatePoint, like every other intake) for a
 * position decoded as Traccar decodes it (engine/osmand-decoder.ts):
 * - speed knots → km/h; a negative bearing is "unknown" (left out), one of 360 or more wraps;
 * - `attrs` are Traccar's attributes under Traccar's names (batteryLevel, hdop, fuel, rpm,
 *   driverUniqueId, …) plus `accuracy` (metres) when sent, `valid: false` when the device
 *   flagged the fix invalid, and `outdated: true` on a report without a fix. They are always
 *   present (maybe empty), so the vehicle view shows exactly the latest report's attributes;
 * - `ignition` (true/false or 1/0) and `fuel` (≥ 0) also feed the vehicle's own fields;
 * - a report without a fix carries the vehicle's last known fix (`last`: position, speed,
 *   course, altitude), as Traccar does: the vehicle stays where it was and its odometer does
 *   not move. Without a last fix there is nothing to place: null (the caller answers 200 and
 *   counts NO_POSITION).
 * Cell towers and Wi-Fi access points are decoded but not kept (no geolocation service).
 */
export function osmandRecord(p: OsmandPosition, now: number, last: VehicleView | undefined): Record<string, unknown> | null {
  const attrs: Record<string, AttributeValue> = { ...p.attributes };
  const record: Record<string, unknown> = { deviceId: p.uniqueId, ts: p.time ?? now, attrs };
  if (p.outdated) {
    if (last === undefined) return null;
    record.lat = last.lat;
    record.lon = last.lon;
    // A speed the view derived from an impossible jump is not the device's: left to be derived again.
    if (last.speed <= MAX_SPEED_KMH) record.speed = last.speed;
    if (last.course !== undefined) record.course = last.course;
    if (last.alt !== undefined) record.alt = last.alt;
    attrs.outdated = true;
  } else {
    record.lat = p.latitude;
    record.lon = p.longitude;
    if (p.speed !== undefined) record.speed = p.speed * KNOT_KMH;
    if (p.course !== undefined && p.course >= 0) record.course = p.course % 360;
    if (p.altitude !== undefined) record.alt = p.altitude;
    if (!p.valid) attrs.valid = false;
  }
  if (p.accuracy !== undefined) attrs.accuracy = p.accuracy;
  const ignition = attrs.ignition;
  if (typeof ignition === 'boolean') record.ignition = ignition;
  else if (ignition === 1 || ignition === 0) record.ignition = ignition === 1;
  const fuel = attrs.fuel;
  if (typeof fuel === 'number' && fuel >= 0) record.fuel = fuel;
  return record;
}
