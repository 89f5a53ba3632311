import { FleetlineError } from '../actors/domain/errors.js';

/**
 * The OsmAnd protocol as Traccar decodes it (its OsmAndProtocolDecoder), into the position
 * Traccar would make of a request: same fields, same units (speed in knots), same attribute
 * names. Mapping that position onto a Fleetline point is engine/osmand.ts's job; conformance is
 * tested against Traccar's own test requests (test/engine/osmand-traccar-conformance.test.ts).
 *
 * Two formats:
 * - query or form parameters (OsmAnd, older Traccar Clients, most scripts). The body is read
 *   only when the URL has no parameters, whatever its content type, as Traccar does;
 * - a JSON body (`Content-Type: application/json`): the location object the current Traccar
 *   Client's background-location SDK sends (`{location: {timestamp, coords, battery, …}, device_id}`).
 */

export type AttributeValue = string | number | boolean;

export interface CellTower {
  readonly mcc: number;
  readonly mnc: number;
  readonly lac: number;
  readonly cid: number;
  readonly signalStrength?: number;
}

export interface WifiAccessPoint {
  readonly macAddress: string;
  readonly signalStrength: number;
}

/** What Traccar makes of one request (its Position), before any server-side handler runs. */
export interface OsmandPosition {
  readonly uniqueId: string;
  valid: boolean;
  /** ms since epoch; undefined when the report carries none (Traccar stamps the server's time). */
  time?: number;
  /**
   * A report without a fix (cell / wifi / attributes only): Traccar copies the location, fix
   * time and validity of the device's last position into it (none yet: 0, 0 at the epoch).
   * Latitude and longitude are then undefined here.
   */
  outdated?: true;
  latitude?: number;
  longitude?: number;
  altitude?: number;
  /** knots */
  speed?: number;
  /** degrees as the device sent them (Traccar keeps a negative or ≥ 360 bearing as is) */
  course?: number;
  /** metres */
  accuracy?: number;
  readonly attributes: Record<string, AttributeValue>;
  network?: { cellTowers?: CellTower[]; wifiAccessPoints?: WifiAccessPoint[] };
}

export interface OsmandRequest {
  readonly query: URLSearchParams;
  readonly body: Buffer;
  readonly contentType: string | undefined;
}

/** Decodes one request; throws FleetlineError (BAD_QUERY, MALFORMED_BODY) for what Traccar cannot decode. */
export function decodeOsmand(req: OsmandRequest): OsmandPosition {
  if ((req.contentType ?? '').toLowerCase().startsWith('application/json')) return decodeJson(req.body);
  let params = grouped(req.query);
  if (params.size === 0 && req.body.length > 0) params = grouped(new URLSearchParams(req.body.toString('latin1')));
  return decodeParameters(params);
}

/** Netty's QueryStringDecoder: each name once, in first-seen order, with all its values in order. */
function grouped(query: URLSearchParams): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, value] of query) {
    const values = out.get(name);
    if (values === undefined) out.set(name, [value]);
    else values.push(value);
  }
  return out;
}

/** Java's Double.parseDouble: blanks around, a sign, an exponent, an f/d suffix, NaN and Infinity. */
const JAVA_DOUBLE = /^([+-]?(?:NaN|Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))[fFdD]?$/;
const JAVA_INT = /^[+-]?\d+$/;

/** Java's String.trim: every character up to U+0020 goes. */
function javaTrim(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && value.charCodeAt(start) <= 0x20) start++;
  while (end > start && value.charCodeAt(end - 1) <= 0x20) end--;
  return value.slice(start, end);
}

function javaDouble(value: string): number | undefined {
  const m = JAVA_DOUBLE.exec(javaTrim(value));
  return m ? Number(m[1]) : undefined;
}

function number(name: string, value: string): number {
  const n = javaDouble(value);
  if (n === undefined || !Number.isFinite(n)) throw new FleetlineError('BAD_QUERY', `${name}: must be a decimal number, got ${JSON.stringify(value.slice(0, 40))}`);
  return n;
}

function integer(name: string, value: string): number {
  const n = JAVA_INT.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || Math.abs(n) > 2_147_483_647) throw new FleetlineError('BAD_QUERY', `${name}: ${JSON.stringify(value.slice(0, 40))} is not an integer`);
  return n;
}

const INTEGER_MAX = 2_147_483_647;

/**
 * Traccar's `timestamp` rule: an integer below 2^31 - 1 is seconds, a larger one milliseconds;
 * text holding a `T` is ISO 8601; anything else is `yyyy-MM-dd HH:mm:ss`. Traccar reads a
 * time without a zone in its server's zone; Fleetline reads it as UTC.
 */
export function osmandTimestamp(value: string): number {
  if (JAVA_INT.test(value) && value.length <= 19) {
    const n = Number(value);
    return n < INTEGER_MAX ? n * 1000 : n;
  }
  const ms = value.includes('T') ? isoDateTime(value) : plainDateTime(value);
  if (ms === undefined) {
    throw new FleetlineError('BAD_QUERY', `timestamp: ${JSON.stringify(value.slice(0, 40))} is neither epoch seconds or milliseconds, ISO 8601, nor yyyy-MM-dd HH:mm:ss`);
  }
  return ms;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;
const PLAIN = /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})$/;

function isoDateTime(value: string): number | undefined {
  const m = ISO.exec(value);
  if (!m) return undefined;
  const utc = utcMillis(m[1], m[2], m[3], m[4], m[5], m[6] ?? '0');
  if (utc === undefined) return undefined;
  const fraction = m[7] === undefined ? 0 : Math.trunc(Number(`0.${m[7]}`) * 1000);
  const offset = m[9] === undefined ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) * 60_000;
  return utc + fraction - offset;
}

function plainDateTime(value: string): number | undefined {
  const m = PLAIN.exec(value);
  return m ? utcMillis(m[1], m[2], m[3], m[4], m[5], m[6]) : undefined;
}

/** A real calendar instant, or undefined (2026-02-30 and 24:00 are refused, not rolled over). */
function utcMillis(...parts: string[]): number | undefined {
  const [year, month, day, hour, minute, second] = parts.map(Number);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  return new Date(utc).getUTCDate() === day ? utc : undefined;
}

/** A value of a parameter Traccar does not know: a number, true/false, or the text itself. */
function attribute(value: string): AttributeValue {
  const n = javaDouble(value);
  // JSON has no NaN or Infinity: they stay text (Traccar would keep a non-finite double).
  if (n !== undefined && Number.isFinite(n)) return n;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value;
}

function decodeParameters(params: Map<string, string[]>): OsmandPosition {
  let uniqueId: string | undefined;
  const p: Omit<OsmandPosition, 'uniqueId'> = { valid: true, attributes: {} };
  const cellTowers: CellTower[] = [];
  const wifiAccessPoints: WifiAccessPoint[] = [];
  for (const [name, values] of params) {
    for (const value of values) {
      // An empty value is no value (OsmAnd fills a template and leaves unknown fields empty).
      if (value === '') continue;
      switch (name) {
        case 'id':
        case 'deviceid':
          uniqueId = value;
          break;
        case 'valid':
          p.valid = value.toLowerCase() === 'true' || value === '1';
          break;
        case 'timestamp':
          p.time = osmandTimestamp(value);
          break;
        case 'lat':
          p.latitude = number(name, value);
          break;
        case 'lon':
          p.longitude = number(name, value);
          break;
        case 'location': {
          const [lat, lon] = value.split(',');
          if (lon === undefined) throw new FleetlineError('BAD_QUERY', 'location: must be latitude,longitude');
          p.latitude = number(name, lat);
          p.longitude = number(name, lon);
          break;
        }
        case 'cell': {
          const c = value.split(',');
          if (c.length < 4) throw new FleetlineError('BAD_QUERY', 'cell: must be mcc,mnc,lac,cid[,signal]');
          const tower: CellTower = { mcc: integer(name, c[0]), mnc: integer(name, c[1]), lac: integer(name, c[2]), cid: integer(name, c[3]) };
          cellTowers.push(c.length > 4 ? { ...tower, signalStrength: integer(name, c[4]) } : tower);
          break;
        }
        case 'wifi': {
          const [mac, signal] = value.split(',');
          if (signal === undefined) throw new FleetlineError('BAD_QUERY', 'wifi: must be mac,signal');
          wifiAccessPoints.push({ macAddress: mac.replaceAll('-', ':'), signalStrength: integer(name, signal) });
          break;
        }
        case 'speed':
          p.speed = number(name, value);
          break;
        case 'bearing':
        case 'heading':
          p.course = number(name, value);
          break;
        case 'altitude':
          p.altitude = number(name, value);
          break;
        case 'accuracy':
          p.accuracy = number(name, value);
          break;
        case 'hdop':
          p.attributes.hdop = number(name, value);
          break;
        case 'batt':
          p.attributes.batteryLevel = number(name, value);
          break;
        case 'driverUniqueId':
          p.attributes.driverUniqueId = value;
          break;
        default:
          p.attributes[name] = attribute(value);
      }
    }
  }
  if (uniqueId === undefined) throw new FleetlineError('BAD_QUERY', 'id (or deviceid): the device id is required');
  if (p.latitude === undefined || p.longitude === undefined) {
    delete p.latitude;
    delete p.longitude;
    p.outdated = true;
  }
  if (cellTowers.length > 0 || wifiAccessPoints.length > 0) {
    p.network = {};
    if (cellTowers.length > 0) p.network.cellTowers = cellTowers;
    if (wifiAccessPoints.length > 0) p.network.wifiAccessPoints = wifiAccessPoints;
  }
  return { uniqueId, ...p };
}

/** m/s → knots with Traccar's ratio (UnitsConverter). */
const KNOTS_TO_MPS = 0.514444;

function decodeJson(body: Buffer): OsmandPosition {
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
