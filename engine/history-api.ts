import { FleetlineError } from '../actors/domain/errors.js';
import type { TripSegment } from '../actors/domain/trip-segment.js';
import type { Grant } from '../actors/ports/client-connection.js';
import type { HistoryReader, KeysetPosition, StoredEvent, VehicleSummary } from '../actors/ports/history-reader.js';
import type { HttpRequest, HttpResponse } from '../actors/ports/transport.js';
import { csvResponse, documentResponse, formatOf, isoTime, trackDocument } from './history-formats.js';
import { eventsQuerySchema, segmentReportQuerySchema, summaryQuerySchema, trackQuerySchema } from './history-schemas.js';
import { parseQuery, vehicleIdParam } from './http-schemas.js';
import { decodeCursor, encodeCursor } from './page-cursor.js';
import { simplifyTrack } from './track-simplification.js';

/** Which vehicles a company holds now (reference data, in memory): the scope of history reads. */
export interface FleetRoster {
  /** The vehicle's company; undefined for a vehicle the reference data does not hold (or an unbound device's). */
  companyOf(vehicleId: string): string | undefined;
  vehiclesOf(companyId: string): string[];
  /** Every vehicle of the reference data (an admin's summary without filters). */
  vehicleIds(): string[];
}

export interface HistoryApiDeps {
  /** null: the embedded mode, which keeps no history (every route answers 501 HISTORY_UNAVAILABLE). */
  readonly reader: HistoryReader | null;
  readonly roster: FleetRoster;
  readonly grantOf: (req: HttpRequest) => Promise<Grant>;
  /** How long each answered request took, by route (fleetline_history_request_seconds). */
  readonly observe?: (route: string, seconds: number) => void;
}

type Handler = (req: HttpRequest) => Promise<HttpResponse>;

export interface HistoryApi {
  /** /v1/reports/trips, /stops, /summary. */
  readonly routes: ReadonlyMap<string, Handler>;
  /** The handler of /v1/vehicles/:id/track or /v1/vehicles/:id/events, if `path` is one. */
  vehicleRoute(path: string): Handler | undefined;
}

const SEGMENT_COLUMNS = ['id', 'kind', 'vehicleId', 'companyId', 'deviceId', 'start', 'end', 'durationMs', 'startLat', 'startLon', 'endLat', 'endLon',
  'distanceKm', 'maxSpeed', 'avgSpeed', 'idleMs', 'closed'] as const;
const EVENT_COLUMNS = ['id', 'vehicleId', 'companyId', 'type', 'time', 'lat', 'lon', 'data'] as const;
const SUMMARY_COLUMNS = ['vehicleId', 'from', 'to', 'trips', 'stops', 'distanceKm', 'drivingMs', 'stoppedMs', 'idleMs', 'maxSpeed', 'avgSpeed', 'overspeeds'] as const;

/**
 * Track, events and reports (docs/http-api.md, History and reports). Every read is scoped by the
 * token: a vehicle route answers 404 for a vehicle outside the token's companies (as
 * GET /v1/vehicles/:id does), and events, trips and stops are read only where the row was
 * recorded for one of the token's companies.
 */
export function createHistoryApi(deps: HistoryApiDeps): HistoryApi {
  const readerOf = async (req: HttpRequest): Promise<{ grant: Grant; reader: HistoryReader }> => {
    const grant = await deps.grantOf(req);
    if (deps.reader === null) throw new FleetlineError('HISTORY_UNAVAILABLE');
    return { grant, reader: deps.reader };
  };

  const visible = (grant: Grant, vehicleId: string): void => {
    if (grant === null) return;
    const company = deps.roster.companyOf(vehicleId);
    if (company === undefined || !grant.has(company)) throw new FleetlineError('NOT_FOUND', `no vehicle ${vehicleId}`);
  };

  /** Companies whose rows a request may read: the token's, narrowed by `company=`; null: any (admin, no filter). */
  const rowCompanies = (grant: Grant, requested: readonly string[] | undefined): string[] | null => {
    if (grant === null) return requested ? [...requested] : null;
    return requested ? requested.filter((c) => grant.has(c)) : [...grant];
  };

  const track = async (req: HttpRequest, vehicleId: string): Promise<HttpResponse> => {
    const { grant, reader } = await readerOf(req);
    const q = parseQuery(trackQuerySchema, req.query);
    visible(grant, vehicleId);
    const afterTs = q.cursor === undefined ? null : (decodeCursor('track', q.cursor, ['string', 'number']) as [string, number]);
    if (afterTs !== null && afterTs[0] !== vehicleId) throw new FleetlineError('BAD_QUERY', 'cursor: it belongs to another vehicle');
    // One row more than the page tells whether another page follows.
    const points = await reader.track({ vehicleId, from: q.from, to: q.to, afterTs: afterTs?.[1] ?? null, limit: q.limit + 1 });
    const more = points.ts.length > q.limit;
    const page = more ? sliceColumns(points, q.limit) : points;
    const rawCount = page.ts.length;
    const nextCursor = more ? encodeCursor('track', [vehicleId, page.ts[rawCount - 1]]) : null;
    const kept = simplifyTrack(page.lat, page.lon, q.simplify);
    const format = formatOf(req, q.format, ['json', 'geojson', 'msgpack']) as 'json' | 'geojson' | 'msgpack';
    const meta = { vehicleId, from: q.from, to: q.to, simplify: q.simplify, rawCount, nextCursor };
    return documentResponse(format, trackDocument(format, meta, page, kept), nextCursor);
  };

  const events = async (req: HttpRequest, vehicleId: string): Promise<HttpResponse> => {
    const { grant, reader } = await readerOf(req);
    const q = parseQuery(eventsQuerySchema, req.query);
    visible(grant, vehicleId);
    const after = keysetOf('events', q.cursor);
    const rows = await reader.events({
      vehicleId, from: q.from, to: q.to, types: q.type ?? null, companies: rowCompanies(grant, undefined), after, limit: q.limit + 1,
    });
    const { page, nextCursor } = pageOf('events', rows, q.limit, (e) => ({ ts: e.ts, id: e.id }));
    const format = formatOf(req, q.format, ['json', 'msgpack', 'csv']);
    if (format === 'csv') return csvResponse('events', EVENT_COLUMNS, page.map(eventRow), nextCursor);
    return documentResponse(format as 'json' | 'msgpack', { vehicleId, from: q.from, to: q.to, events: page.map(eventView), count: page.length, nextCursor }, nextCursor);
  };

  const segments = (kind: TripSegment['kind']): Handler => async (req) => {
    const { grant, reader } = await readerOf(req);
    const q = parseQuery(segmentReportQuerySchema, req.query);
    for (const v of q.vehicle ?? []) visible(grant, v);
    const route = kind === 'trip' ? 'trips' : 'stops';
    const rows = await reader.segments({
      kind, from: q.from, to: q.to, vehicles: q.vehicle ?? null, companies: rowCompanies(grant, q.company),
      after: keysetOf(route, q.cursor), limit: q.limit + 1,
    });
    const { page, nextCursor } = pageOf(route, rows, q.limit, (s) => ({ ts: s.startTs, id: s.id }));
    const format = formatOf(req, q.format, ['json', 'msgpack', 'csv']);
    if (format === 'csv') return csvResponse(route, SEGMENT_COLUMNS, page.map(segmentRow), nextCursor);
    return documentResponse(format as 'json' | 'msgpack', { from: q.from, to: q.to, [route]: page.map(segmentView), count: page.length, nextCursor }, nextCursor);
  };

  const summary = async (req: HttpRequest): Promise<HttpResponse> => {
    const { grant, reader } = await readerOf(req);
    const q = parseQuery(summaryQuerySchema, req.query);
    for (const v of q.vehicle ?? []) visible(grant, v);
    const companies = rowCompanies(grant, q.company);
    const scope = q.vehicle ? [...q.vehicle] : companies === null ? deps.roster.vehicleIds() : companies.flatMap((c) => deps.roster.vehiclesOf(c));
    const after = q.cursor === undefined ? null : (decodeCursor('summary', q.cursor, ['string'])[0] as string);
    const ordered = [...new Set(scope)].sort().filter((v) => after === null || v > after);
    const vehicles = ordered.slice(0, q.limit);
    const nextCursor = ordered.length > q.limit ? encodeCursor('summary', [vehicles[vehicles.length - 1]]) : null;
    const rows = (await reader.summaries({ vehicles, from: q.from, to: q.to, companies })).map(summaryView);
    const format = formatOf(req, q.format, ['json', 'msgpack', 'csv']);
    if (format === 'csv') return csvResponse('summary', SUMMARY_COLUMNS, rows.map((r) => summaryRow(r, q.from, q.to)), nextCursor);
    return documentResponse(format as 'json' | 'msgpack', { from: q.from, to: q.to, vehicles: rows, count: rows.length, nextCursor }, nextCursor);
  };

  const timed = <A extends unknown[]>(route: string, handler: (req: HttpRequest, ...args: A) => Promise<HttpResponse>) =>
    async (req: HttpRequest, ...args: A): Promise<HttpResponse> => {
      const started = performance.now();
      const res = await handler(req, ...args);
      deps.observe?.(route, (performance.now() - started) / 1000);
      return res;
    };
  const routes = new Map<string, Handler>([
    ['/v1/reports/trips', timed('trips', segments('trip'))],
    ['/v1/reports/stops', timed('stops', segments('stop'))],
    ['/v1/reports/summary', timed('summary', summary)],
  ]);
  const vehicleRoutes: readonly [string, (req: HttpRequest, vehicleId: string) => Promise<HttpResponse>][] = [
    ['/track', timed('track', track)], ['/events', timed('events', events)],
  ];
  return {
    routes,
    vehicleRoute(path) {
      for (const [suffix, handler] of vehicleRoutes) {
        if (!path.endsWith(suffix)) continue;
        const segment = path.slice('/v1/vehicles/'.length, -suffix.length);
        if (segment.length === 0) return undefined;
        return (req) => handler(req, vehicleIdParam(segment));
      }
      return undefined;
    },
  };
}

function keysetOf(route: string, cursor: string | undefined): KeysetPosition | null {
  if (cursor === undefined) return null;
  const [ts, id] = decodeCursor(route, cursor, ['number', 'string']) as [number, string];
  return { ts, id };
}

/** Rows were read with limit + 1: the extra row says another page follows, and is not part of this one. */
function pageOf<T>(route: string, rows: T[], limit: number, key: (row: T) => KeysetPosition): { page: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { page: rows, nextCursor: null };
  const page = rows.slice(0, limit);
  const last = key(page[limit - 1]);
  return { page, nextCursor: encodeCursor(route, [last.ts, last.id]) };
}

function sliceColumns<T extends Record<keyof T, Float64Array>>(columns: T, n: number): T {
  const out = {} as Record<string, Float64Array>;
  for (const [k, v] of Object.entries(columns) as [string, Float64Array][]) out[k] = v.subarray(0, n);
  return out as T;
}

function segmentView(s: TripSegment): Record<string, unknown> {
  const { company, ...rest } = s;
  return { ...rest, companyId: company, durationMs: s.endTs - s.startTs };
}

function segmentRow(s: TripSegment): unknown[] {
  return [s.id, s.kind, s.vehicleId, s.company, s.deviceId, isoTime(s.startTs), isoTime(s.endTs), s.endTs - s.startTs, s.startLat, s.startLon,
    s.endLat, s.endLon, s.distanceKm, s.maxSpeed, s.avgSpeed, s.idleMs, s.closed];
}

function eventView(e: StoredEvent): Record<string, unknown> {
  const { company, ...rest } = e;
  return { ...rest, companyId: company };
}

function eventRow(e: StoredEvent): unknown[] {
  return [e.id, e.vehicleId, e.company, e.type, isoTime(e.ts), e.lat, e.lon, e.data];
}

type SummaryView = VehicleSummary & { avgSpeed: number };

/** Average speed is distance over driving time (km/h), as a trip's is. */
function summaryView(s: VehicleSummary): SummaryView {
  return { ...s, avgSpeed: s.drivingMs > 0 ? s.distanceKm / (s.drivingMs / 3_600_000) : 0 };
}

function summaryRow(s: SummaryView, from: number, to: number): unknown[] {
  return [s.vehicleId, isoTime(from), isoTime(to), s.trips, s.stops, s.distanceKm, s.drivingMs, s.stoppedMs, s.idleMs, s.maxSpeed, s.avgSpeed, s.overspeeds];
}
