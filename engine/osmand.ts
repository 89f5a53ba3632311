import type { OsmandQuery } from './http-schemas.js';

/**
 * The OsmAnd protocol, as Traccar Client phone apps send it: one position per request, as query
 * parameters (GET or POST), or as a form body, parsed by osmandQuerySchema. Speed is in knots,
 * timestamp in seconds (or milliseconds, or ISO). Translates into a raw telemetry record for the
 * normal validation.
 */
export function osmandRecord(q: OsmandQuery, now: number = Date.now()): Record<string, unknown> {
  const record: Record<string, unknown> = { deviceId: q.id ?? q.deviceid };
  if (typeof q.timestamp === 'number') record.ts = q.timestamp < 1e11 ? q.timestamp * 1000 : q.timestamp;
  else record.ts = q.timestamp ?? now;
  record.lat = q.lat;
  record.lon = q.lon;
  if (q.speed !== undefined) record.speed = Math.round(q.speed * 1.852 * 10) / 10;
  const bearing = q.bearing ?? q.heading;
  if (bearing !== undefined) record.course = bearing % 360;
  if (q.altitude !== undefined) record.alt = q.altitude;
  if (q.ignition !== undefined) record.ignition = q.ignition === 'true' || q.ignition === '1';
  const attrs: Record<string, number | string> = {};
  for (const key of ['accuracy', 'batt', 'hdop', 'charge'] as const) {
    const v = q[key];
    if (v !== undefined) attrs[key] = v;
  }
  if (Object.keys(attrs).length > 0) record.attrs = attrs;
  return record;
}
