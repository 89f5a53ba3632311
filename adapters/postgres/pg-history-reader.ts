import type pg from 'pg';
import {
  OVERSPEED_EVENT_TYPES,
  type EventQuery, type HistoryReader, type SegmentQuery, type StoredEvent, type SummaryQuery, type TrackColumns, type TrackQuery, type VehicleSummary,
} from '../../actors/ports/history-reader.js';
import type { TripSegment } from '../../actors/domain/trip-segment.js';

/**
 * Reads history with one indexed query per request (plans in docs/storage.md). A track comes back
 * as one row of five arrays in PostgreSQL's binary array format (array_send: int8 microseconds
 * since 2000 for ts, float8 for lat/lon, float4 for speed/course): a month of one vehicle is
 * ~260k points, and as 260k text rows it costs several times more to format, send and parse.
 * The subquery reads the page in ts order and the aggregates keep that order (PostgreSQL
 * aggregates a sorted subquery in its order); decodeTrack checks it.
 */
const TRACK = `
SELECT array_send(array_agg(ts)) AS ts, array_send(array_agg(lat)) AS lat, array_send(array_agg(lon)) AS lon,
       array_send(array_agg(speed)) AS speed, array_send(array_agg(course)) AS course
FROM (
  SELECT ts, lat, lon, speed, course
  FROM positions
  WHERE vehicle_id = $1 AND ts >= to_timestamp($2 / 1000.0) AND ts < to_timestamp($3 / 1000.0)
    AND ($4::float8 IS NULL OR ts > to_timestamp($4 / 1000.0))
  ORDER BY ts
  LIMIT $5
) page`;

// The ms column is not named ts: ORDER BY ts must name the column the index holds.
const EVENT_COLUMNS = `id, vehicle_id, company_id, type, extract(epoch FROM ts) * 1000 AS ts_ms, lat, lon, data`;

// (ts, id) > (after) with the ts compared as milliseconds, as the cursor holds it.
const EVENTS = `
SELECT ${EVENT_COLUMNS}
FROM events
WHERE vehicle_id = $1 AND ts >= to_timestamp($2 / 1000.0) AND ts < to_timestamp($3 / 1000.0)
  AND ($4::text[] IS NULL OR type = ANY($4))
  AND ($5::text[] IS NULL OR company_id = ANY($5))
  AND ($6::float8 IS NULL OR (ts, id) > (to_timestamp($6 / 1000.0), $7::text))
ORDER BY ts, id
LIMIT $8`;

const SEGMENT_COLUMNS = `id, kind, vehicle_id, company_id, device_id, extract(epoch FROM start_ts) * 1000, extract(epoch FROM end_ts) * 1000,
  start_lat, start_lon, end_lat, end_lon, distance_km, max_speed, avg_speed, idle_ms, closed`;

const SEGMENT_PAGE = `
  AND kind = $1 AND start_ts >= to_timestamp($2 / 1000.0) AND start_ts < to_timestamp($3 / 1000.0)
  AND ($4::float8 IS NULL OR (start_ts, id) > (to_timestamp($4 / 1000.0), $5::text))
ORDER BY start_ts, id
LIMIT $6`;

/**
 * Of one vehicle or company, `= $7` lets the index hand rows over in (start_ts, id) order, so the
 * page stops after `limit` rows; `= ANY($7)` (several) reads every match in the range and sorts.
 * For a company token, only the rows recorded for its companies ($8).
 */
const SEGMENTS_OF_VEHICLE = `
SELECT ${SEGMENT_COLUMNS} FROM segments
WHERE vehicle_id = $7 AND ($8::text[] IS NULL OR company_id = ANY($8))${SEGMENT_PAGE}`;

const SEGMENTS_OF_VEHICLES = `
SELECT ${SEGMENT_COLUMNS} FROM segments
WHERE vehicle_id = ANY($7) AND ($8::text[] IS NULL OR company_id = ANY($8))${SEGMENT_PAGE}`;

const SEGMENTS_OF_COMPANY = `
SELECT ${SEGMENT_COLUMNS} FROM segments
WHERE company_id = $7${SEGMENT_PAGE}`;

const SEGMENTS_OF_COMPANIES = `
SELECT ${SEGMENT_COLUMNS} FROM segments
WHERE company_id = ANY($7)${SEGMENT_PAGE}`;

const SEGMENTS_OF_ALL = `
SELECT ${SEGMENT_COLUMNS} FROM segments
WHERE true${SEGMENT_PAGE}`;

/** A segment counts in the period it starts in: consecutive periods add up to their union. */
const SUMMARIES = `
SELECT v.id, s.trips, s.stops, s.distance_km, s.driving_ms, s.stopped_ms, s.idle_ms, s.max_speed, e.overspeeds
FROM unnest($1::text[]) WITH ORDINALITY AS v(id, n)
CROSS JOIN LATERAL (
  SELECT count(*) FILTER (WHERE kind = 'trip') AS trips,
         count(*) FILTER (WHERE kind = 'stop') AS stops,
         coalesce(sum(distance_km) FILTER (WHERE kind = 'trip'), 0) AS distance_km,
         coalesce(sum(extract(epoch FROM end_ts - start_ts) * 1000) FILTER (WHERE kind = 'trip'), 0) AS driving_ms,
         coalesce(sum(extract(epoch FROM end_ts - start_ts) * 1000) FILTER (WHERE kind = 'stop'), 0) AS stopped_ms,
         coalesce(sum(idle_ms), 0) AS idle_ms,
         coalesce(max(max_speed) FILTER (WHERE kind = 'trip'), 0) AS max_speed
  FROM segments
  WHERE vehicle_id = v.id AND start_ts >= to_timestamp($2 / 1000.0) AND start_ts < to_timestamp($3 / 1000.0)
    AND ($4::text[] IS NULL OR company_id = ANY($4))
) s
CROSS JOIN LATERAL (
  SELECT count(*) AS overspeeds
  FROM events
  WHERE vehicle_id = v.id AND type = ANY($5) AND ts >= to_timestamp($2 / 1000.0) AND ts < to_timestamp($3 / 1000.0)
    AND ($4::text[] IS NULL OR company_id = ANY($4))
) e
ORDER BY v.n`;

/** The statements, for EXPLAIN (loadtest/bench-history.ts --explain prints their plans). */
export const HISTORY_QUERIES = {
  track: TRACK, events: EVENTS, segmentsOfVehicle: SEGMENTS_OF_VEHICLE, segmentsOfVehicles: SEGMENTS_OF_VEHICLES, segmentsOfCompany: SEGMENTS_OF_COMPANY,
  segmentsOfCompanies: SEGMENTS_OF_COMPANIES, segmentsOfAll: SEGMENTS_OF_ALL, summaries: SUMMARIES,
} as const;

type Row = unknown[];

export interface PgHistoryReaderOptions {
  /**
   * A long track is read as this many time slices at once, each on a connection of its own
   * (default 4; 1 reads it in one query): PostgreSQL aggregates one query on one core, and a
   * month read in four slices took 0.6x the time of one query (docs/storage.md).
   */
  readonly trackSlices?: number;
}

/** Fewer points than this per page are read in one query: slicing pays only for long pages. */
const SLICED_TRACK_MIN_LIMIT = 20_000;

export class PgHistoryReader implements HistoryReader {
  readonly kind = 'postgres';
  private readonly trackSlices: number;

  constructor(private readonly pool: pg.Pool, options: PgHistoryReaderOptions = {}) {
    this.trackSlices = Math.max(1, options.trackSlices ?? 4);
  }

  async track(q: TrackQuery): Promise<TrackColumns> {
    // A next page starts at its cursor: the slices cut what is left of the range, not the whole.
    const start = q.afterTs === null ? q.from : Math.max(q.from, q.afterTs);
    const slices = q.limit >= SLICED_TRACK_MIN_LIMIT ? daySlices(start, q.to, this.trackSlices) : [[start, q.to]];
    // Each slice is limited like the whole; the slices in order, cut at the limit, are the page.
    const parts = await Promise.all(slices.map(async ([from, to], i) => {
      const [row] = await this.rows(TRACK, [q.vehicleId, from, to, i === 0 ? q.afterTs : null, q.limit]);
      return decodeTrack(row as (Buffer | null)[]);
    }));
    return concatColumns(parts, q.limit);
  }

  async events(q: EventQuery): Promise<StoredEvent[]> {
    const rows = await this.rows(EVENTS, [
      q.vehicleId, q.from, q.to, q.types, q.companies, q.after?.ts ?? null, q.after?.id ?? null, q.limit,
    ]);
    return rows.map((r) => ({
      id: r[0] as string, vehicleId: r[1] as string, company: r[2] as string | null, type: r[3] as string,
      ts: Math.round(Number(r[4])), lat: r[5] as number, lon: r[6] as number, data: r[7] as Record<string, unknown> | null,
    }));
  }

  async segments(q: SegmentQuery): Promise<TripSegment[]> {
    const page = [q.kind, q.from, q.to, q.after?.ts ?? null, q.after?.id ?? null, q.limit];
    let rows: Row[];
    if (q.vehicles !== null) {
      rows = q.vehicles.length === 1
        ? await this.rows(SEGMENTS_OF_VEHICLE, [...page, q.vehicles[0], q.companies])
        : await this.rows(SEGMENTS_OF_VEHICLES, [...page, q.vehicles, q.companies]);
    } else if (q.companies !== null) {
      rows = q.companies.length === 1
        ? await this.rows(SEGMENTS_OF_COMPANY, [...page, q.companies[0]])
        : await this.rows(SEGMENTS_OF_COMPANIES, [...page, q.companies]);
    } else {
      rows = await this.rows(SEGMENTS_OF_ALL, page);
    }
    return rows.map(segmentOf);
  }

  async summaries(q: SummaryQuery): Promise<VehicleSummary[]> {
    if (q.vehicles.length === 0) return [];
    const rows = await this.rows(SUMMARIES, [q.vehicles, q.from, q.to, q.companies, OVERSPEED_EVENT_TYPES]);
    return rows.map((r) => ({
      vehicleId: r[0] as string,
      trips: Number(r[1]),
      stops: Number(r[2]),
      distanceKm: r[3] as number,
      drivingMs: Math.round(Number(r[4])),
      stoppedMs: Math.round(Number(r[5])),
      idleMs: Number(r[6]),
      maxSpeed: r[7] as number,
      overspeeds: Number(r[8]),
    }));
  }

  private async rows(text: string, values: unknown[]): Promise<Row[]> {
    const result = await this.pool.query({ text, values, rowMode: 'array' });
    return result.rows as Row[];
  }
}

function segmentOf(r: Row): TripSegment {
  return {
    id: r[0] as string, kind: r[1] as TripSegment['kind'], vehicleId: r[2] as string, company: r[3] as string | null, deviceId: r[4] as string,
    startTs: Math.round(Number(r[5])), endTs: Math.round(Number(r[6])),
    startLat: r[7] as number, startLon: r[8] as number, endLat: r[9] as number, endLon: r[10] as number,
    distanceKm: r[11] as number, maxSpeed: r[12] as number, avgSpeed: r[13] as number, idleMs: Number(r[14]), closed: r[15] as boolean,
  };
}

const DAY_MS = 86_400_000;

/** [from, to) cut at UTC midnights (whole day partitions) into at most `count` slices of about equal days. */
function daySlices(from: number, to: number, count: number): [number, number][] {
  const firstMidnight = Math.ceil(from / DAY_MS) * DAY_MS;
  const days = Math.floor((to - firstMidnight) / DAY_MS);
  const n = Math.min(count, days);
  if (n < 2) return [[from, to]];
  const cuts = Array.from({ length: n - 1 }, (_, i) => firstMidnight + Math.round(((i + 1) * days) / n) * DAY_MS);
  return [from, ...cuts].map((start, i) => [start, i < cuts.length ? cuts[i] : to]);
}

function concatColumns(parts: TrackColumns[], limit: number): TrackColumns {
  if (parts.length === 1) return parts[0];
  const n = Math.min(limit, parts.reduce((sum, p) => sum + p.ts.length, 0));
  const out: TrackColumns = { ts: new Float64Array(n), lat: new Float64Array(n), lon: new Float64Array(n), speed: new Float64Array(n), course: new Float64Array(n) };
  let at = 0;
  for (const p of parts) {
    const take = Math.min(p.ts.length, n - at);
    if (take <= 0) break;
    for (const k of ['ts', 'lat', 'lon', 'speed', 'course'] as const) out[k].set(p[k].subarray(0, take), at);
    at += take;
  }
  return out;
}

/** PostgreSQL's epoch (2000-01-01) in Unix milliseconds: binary timestamps count microseconds from it. */
const PG_EPOCH_MS = 946_684_800_000;

function decodeTrack(row: (Buffer | null)[]): TrackColumns {
  const [ts, lat, lon, speed, course] = row.map(decodeArray);
  for (let i = 0; i < ts.length; i++) ts[i] = Math.round(ts[i] / 1000) + PG_EPOCH_MS;
  for (let i = 1; i < ts.length; i++) {
    if (ts[i] <= ts[i - 1]) throw new Error('positions came back out of ts order');
  }
  return { ts, lat, lon, speed, course };
}

/**
 * A one-dimensional array in PostgreSQL's binary format: ndim, has-nulls flag, element type,
 * then (length, lower bound) per dimension, then each element as a 4-byte length (-1: NULL)
 * and its bytes. Elements are float8, float4 or int8 (timestamptz: microseconds); NULL is NaN.
 */
function decodeArray(b: Buffer | null): Float64Array {
  if (b === null || b.readInt32BE(0) === 0) return new Float64Array(0);
  const n = b.readInt32BE(12);
  const out = new Float64Array(n);
  const element = b.readUInt32BE(8);
  let pos = 20;
  for (let i = 0; i < n; i++) {
    const len = b.readInt32BE(pos);
    pos += 4;
    if (len === -1) {
      out[i] = NaN;
      continue;
    }
    // int8 microseconds since 2000 stay below 2^53 until the year 2285: exact as a double.
    // A real (float4: speed, course) to 3 decimals, as its text form reads: 33.3, not 33.29999923706055.
    out[i] = element === TIMESTAMPTZ ? b.readInt32BE(pos) * 4_294_967_296 + b.readUInt32BE(pos + 4)
      : len === 8 ? b.readDoubleBE(pos) : Math.round(b.readFloatBE(pos) * 1000) / 1000;
    pos += len;
  }
  return out;
}

const TIMESTAMPTZ = 1184;
