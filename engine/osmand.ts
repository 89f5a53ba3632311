import { decimalNumber } from './http-schemas.js';

/**
 * The OsmAnd protocol, as Traccar Client phone apps send it: one position per request, as query
 * parameters (GET or POST), or as a form body. Speed is in knots, timestamp in seconds (or ISO).
 * Translates into a raw telemetry record for the normal validation.
 */
export function osmandRecord(params: URLSearchParams): Record<string, unknown> {
  const num = (name: string): number | undefined => {
    const v = params.get(name);
    if (v === null || v.trim() === '') return undefined;
    return decimalNumber(v) ?? NaN; // hex, exponents and `Infinity` are not numbers here
  };
  const record: Record<string, unknown> = { deviceId: params.get('id') ?? params.get('deviceid') ?? undefined };
  const ts = params.get('timestamp');
  if (ts !== null) record.ts = /^\d+(\.\d+)?$/.test(ts) ? (Number(ts) < 1e11 ? Number(ts) * 1000 : Number(ts)) : ts;
  else record.ts = Date.now();
  record.lat = num('lat');
  record.lon = num('lon');
  const knots = num('speed');
  if (knots !== undefined) record.speed = Math.round(knots * 1.852 * 10) / 10;
  const bearing = num('bearing') ?? num('heading');
  if (bearing !== undefined) record.course = bearing % 360;
  const alt = num('altitude');
  if (alt !== undefined) record.alt = alt;
  const ignition = params.get('ignition');
  if (ignition !== null) record.ignition = ignition === 'true' || ignition === '1';
  const attrs: Record<string, number | string> = {};
  for (const key of ['accuracy', 'batt', 'charge', 'hdop']) {
    const v = params.get(key);
    if (v !== null) attrs[key] = decimalNumber(v) ?? v;
  }
  if (Object.keys(attrs).length > 0) record.attrs = attrs;
  return record;
}
