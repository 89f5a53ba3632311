import { FleetlineError } from '../actors/domain/errors.js';
import type { OsmandPosition } from './osmand-decoder.js';
import { isoDateTime } from './osmand-time.js';

/** m/s → knots with Traccar's ratio (UnitsConverter). */
const KNOTS_TO_MPS = 0.514444;

/**
 * The JSON body of the current Traccar Client (its background-location SDK's format:
 * `{device_id, location: {timestamp, coords, battery, activity, extras, …}}`), as Traccar's
 * decodeJson reads it. Fields Traccar would fail on when absent are optional here.
 */
export function decodeOsmandJson(body: Buffer): OsmandPosition {
  let root: unknown;
  try {
    root = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new FleetlineError('MALFORMED_BODY', `not JSON: ${(e as Error).message}`);
  }
  const doc = object(root, 'the body');
  const uniqueId = doc.device_id;
  if (typeof uniqueId !== 'string' || uniqueId === '') throw new FleetlineError('MALFORMED_BODY', 'device_id: a string is required');
  const location = object(doc.location, 'location');
  if (typeof location.timestamp !== 'string') throw new FleetlineError('MALFORMED_BODY', 'location.timestamp: an ISO 8601 time is required');
  const time = isoDateTime(location.timestamp);
  if (time === undefined) throw new FleetlineError('MALFORMED_BODY', `location.timestamp: ${JSON.stringify(location.timestamp.slice(0, 40))} is not an ISO 8601 time`);

  const p: OsmandPosition = { uniqueId, valid: false, time, attributes: {} };
  if (location.coords !== undefined) {
    const coords = object(location.coords, 'location.coords');
    p.valid = true;
    p.latitude = jsonNumber(coords.latitude, 'location.coords.latitude', true);
    p.longitude = jsonNumber(coords.longitude, 'location.coords.longitude', true);
    // The SDK sends -1 for "unknown": Traccar leaves such a speed or heading unset.
    const speed = jsonNumber(coords.speed, 'location.coords.speed');
    if (speed !== undefined && speed >= 0) p.speed = speed / KNOTS_TO_MPS;
    const heading = jsonNumber(coords.heading, 'location.coords.heading');
    if (heading !== undefined && heading >= 0) p.course = heading;
    const accuracy = jsonNumber(coords.accuracy, 'location.coords.accuracy');
    if (accuracy !== undefined && accuracy >= 0) p.accuracy = accuracy;
    const altitude = jsonNumber(coords.altitude, 'location.coords.altitude');
    if (altitude !== undefined) p.altitude = altitude;
  } else {
    p.outdated = true;
  }
  const a = p.attributes;
  if (typeof location.event === 'string') a.event = location.event;
  if (typeof location.is_moving === 'boolean') a.motion = location.is_moving;
  const odometer = jsonNumber(location.odometer, 'location.odometer');
  if (odometer !== undefined) a.odometer = Math.trunc(odometer);
  if (typeof location.mock === 'boolean') a.mock = location.mock;
  if (location.activity !== undefined) {
    const type = object(location.activity, 'location.activity').type;
    if (typeof type === 'string') a.activity = type;
  }
  if (location.battery !== undefined) {
    const battery = object(location.battery, 'location.battery');
    const level = jsonNumber(battery.level, 'location.battery.level');
    if (level !== undefined && level >= 0) a.batteryLevel = Math.trunc(level * 100);
    if (battery.is_charging === true) a.charge = true;
  }
  if (typeof location.alarm === 'string') a.alarm = location.alarm;
  if (location.extras !== undefined) {
    for (const [name, value] of Object.entries(object(location.extras, 'location.extras'))) {
      if (name === 'alarm' && typeof location.alarm === 'string') continue;
      // Numbers, booleans and text are kept; nested objects, arrays and null are not (as Traccar).
      if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) a[name] = value;
    }
  }
  return p;
}

function object(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FleetlineError('MALFORMED_BODY', `${what}: an object is required`);
  return v as Record<string, unknown>;
}

function jsonNumber(v: unknown, what: string, required = false): number | undefined {
  if (v === undefined || v === null) {
    if (required) throw new FleetlineError('MALFORMED_BODY', `${what}: a number is required`);
    return undefined;
  }
  if (typeof v !== 'number') throw new FleetlineError('MALFORMED_BODY', `${what}: must be a number`);
  return v;
}
