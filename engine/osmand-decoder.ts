import { FleetlineError } from '../actors/domain/errors.js';
import { decodeOsmandJson } from './osmand-json.js';
import { osmandTimestamp } from './osmand-time.js';

/**
 * The OsmAnd protocol as Traccar decodes it (its OsmAndProtocolDecoder), into the position
 * Traccar would make of a request: same fields, same units (speed in knots), same attribute
 * names. Mapping that position onto a Fleetline point is engine/osmand.ts's job; conformance is
 * tested against Traccar's own test requests (test/engine/osmand-traccar-conformance.test.ts).
 *
 * Two formats:
 * - query or form parameters (OsmAnd, older Traccar Clients, most scripts). The body is read
 *   only when the URL has no parameters, whatever its content type, as Traccar does;
 * - a JSON body (`Content-Type: application/json`, engine/osmand-json.ts): the location object the current Traccar
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
  if ((req.contentType ?? '').toLowerCase().startsWith('application/json')) return decodeOsmandJson(req.body);
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
  const n = /^[+-]?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || Math.abs(n) > 2_147_483_647) throw new FleetlineError('BAD_QUERY', `${name}: ${JSON.stringify(value.slice(0, 40))} is not an integer`);
  return n;
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
