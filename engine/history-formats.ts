import type { HttpRequest, HttpResponse } from '../actors/ports/transport.js';
import type { TrackColumns } from '../actors/ports/history-reader.js';
import { encodeMsgpack } from '../adapters/codec/msgpack-codec.js';

/**
 * How history answers are written: JSON, MessagePack (the same document), GeoJSON (tracks) and
 * CSV (lists). The page's next cursor travels in the body and in a `next-cursor` header, so a
 * CSV export pages like the others.
 */
export type HistoryFormat = 'json' | 'msgpack' | 'geojson' | 'csv';

const ACCEPTED: readonly [string, HistoryFormat][] = [
  ['application/msgpack', 'msgpack'], ['text/csv', 'csv'], ['application/geo+json', 'geojson'], ['application/json', 'json'],
];

/** `format=` when given, else the first of `allowed` the Accept header names, else JSON. */
export function formatOf(req: HttpRequest, given: HistoryFormat | undefined, allowed: readonly HistoryFormat[]): HistoryFormat {
  if (given !== undefined) return given;
  const accept = req.header('accept') ?? '';
  for (const [type, format] of ACCEPTED) if (allowed.includes(format) && accept.includes(type)) return format;
  return 'json';
}

function cursorHeader(nextCursor: string | null): Record<string, string> {
  return nextCursor === null ? {} : { 'next-cursor': nextCursor };
}

/** A JSON or MessagePack document. */
export function documentResponse(format: 'json' | 'msgpack' | 'geojson', body: Record<string, unknown>, nextCursor: string | null): HttpResponse {
  const headers = cursorHeader(nextCursor);
  if (format === 'msgpack') return { status: 200, headers: { ...headers, 'content-type': 'application/msgpack' }, body: encodeMsgpack(body) };
  const type = format === 'geojson' ? 'application/geo+json' : 'application/json';
  return { status: 200, headers: { ...headers, 'content-type': type }, body: JSON.stringify(body) };
}

/** RFC 4180: CRLF line ends, a header row, fields quoted when they hold a comma, quote or line break. */
export function csvResponse(name: string, columns: readonly string[], rows: readonly (readonly unknown[])[], nextCursor: string | null): HttpResponse {
  const lines = [columns.map(csvField).join(',')];
  for (const r of rows) lines.push(r.map(csvField).join(','));
  return {
    status: 200,
    headers: { ...cursorHeader(nextCursor), 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${name}.csv"` },
    body: lines.join('\r\n') + '\r\n',
  };
}

function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  // A leading =, +, - or @ makes spreadsheets evaluate the cell: quote it with a ' (OWASP CSV injection).
  const safe = typeof v === 'string' && /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** The kept points of a track page, in the chosen document format. */
export function trackDocument(
  format: 'json' | 'msgpack' | 'geojson',
  meta: { vehicleId: string; from: number; to: number; simplify: number; rawCount: number; nextCursor: string | null },
  track: TrackColumns,
  kept: Uint32Array,
): Record<string, unknown> {
  const n = kept.length;
  if (format === 'geojson') {
    const coordinates = new Array<[number, number]>(n);
    const times = new Array<number>(n);
    const speeds = new Array<number | null>(n);
    for (let k = 0; k < n; k++) {
      const i = kept[k];
      coordinates[k] = [track.lon[i], track.lat[i]];
      times[k] = track.ts[i];
      speeds[k] = Number.isNaN(track.speed[i]) ? null : track.speed[i];
    }
    // RFC 7946 has no one-position LineString: a single point is a Point, none is a null geometry.
    const geometry = n >= 2 ? { type: 'LineString', coordinates } : n === 1 ? { type: 'Point', coordinates: coordinates[0] } : null;
    return { type: 'Feature', geometry, properties: { ...meta, count: n, times, speeds } };
  }
  const points = new Array<Record<string, number>>(n);
  for (let k = 0; k < n; k++) {
    const i = kept[k];
    const p: Record<string, number> = { ts: track.ts[i], lat: track.lat[i], lon: track.lon[i] };
    if (!Number.isNaN(track.speed[i])) p.speed = track.speed[i];
    if (!Number.isNaN(track.course[i])) p.course = track.course[i];
    points[k] = p;
  }
  return { ...meta, count: n, points };
}
