import { z } from 'zod';
import { DIGITS, id, idList, MAX_QUERY_IDS } from './http-schemas.js';

/**
 * Query schemas of the history routes (track, events, reports): parsed by parseQuery like every
 * other query, so an unknown, repeated or malformed parameter is 400 BAD_QUERY naming it.
 */

/** Raw points one track page reads at most: a month at 1 point / 10 s (~260k) fits in one. */
export const TRACK_MAX_POINTS = 500_000;
/** Rows one events, trips or stops page holds at most (default 1,000). */
export const REPORT_MAX_ROWS = 10_000;
/** Vehicles one summary page holds at most (default 100). */
export const SUMMARY_MAX_VEHICLES = 1000;
/** A tolerance above this is not a simplification of a vehicle's track any more. */
const MAX_SIMPLIFY_M = 100_000;

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds since epoch, or an ISO-8601 date-time with a zone. */
const instant = z.string().transform((s, ctx) => {
  const ms = DIGITS.test(s) ? Number(s) : ISO_INSTANT.test(s) ? Date.parse(s) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 0) {
    ctx.addIssue({ code: 'custom', message: 'must be epoch milliseconds or an ISO-8601 date-time with a zone (2026-03-01T00:00:00Z)' });
    return z.NEVER;
  }
  return ms;
});

const count = (max: number, fallback: number) => z.string().regex(DIGITS, 'must be an integer').transform(Number)
  .pipe(z.number().int().min(1).max(max)).default(fallback);

const cursor = z.string().max(1024).optional();
const token = z.string().optional();

const range = { from: instant, to: instant };
const fromBeforeTo = (q: { from: number; to: number }) => q.from < q.to;
const FROM_BEFORE_TO = { message: 'from must be before to', path: ['to'] };

export type ListFormat = 'json' | 'msgpack' | 'csv';
export type TrackFormat = 'json' | 'geojson' | 'msgpack';

/** GET /v1/vehicles/:id/track */
export const trackQuerySchema = z.strictObject({
  ...range,
  simplify: z.string().regex(/^\d+(\.\d+)?$/, 'must be a distance in metres').transform(Number)
    .pipe(z.number().max(MAX_SIMPLIFY_M, `at most ${MAX_SIMPLIFY_M} m`)).default(0),
  format: z.enum(['json', 'geojson', 'msgpack']).optional(),
  cursor,
  limit: count(TRACK_MAX_POINTS, TRACK_MAX_POINTS),
  token,
}).refine(fromBeforeTo, FROM_BEFORE_TO);

/** GET /v1/vehicles/:id/events */
export const eventsQuerySchema = z.strictObject({
  ...range,
  type: z.string().transform((s) => [...new Set(s.split(','))])
    .pipe(z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'event types are names like overspeed or trip_start')).min(1).max(64))
    .optional(),
  format: z.enum(['json', 'msgpack', 'csv']).optional(),
  cursor,
  limit: count(REPORT_MAX_ROWS, 1000),
  token,
}).refine(fromBeforeTo, FROM_BEFORE_TO);

/** GET /v1/reports/trips and /v1/reports/stops */
export const segmentReportQuerySchema = z.strictObject({
  ...range,
  vehicle: idList(MAX_QUERY_IDS).optional(),
  company: idList(MAX_QUERY_IDS).optional(),
  format: z.enum(['json', 'msgpack', 'csv']).optional(),
  cursor,
  limit: count(REPORT_MAX_ROWS, 1000),
  token,
}).refine(fromBeforeTo, FROM_BEFORE_TO);

/** GET /v1/reports/summary */
export const summaryQuerySchema = z.strictObject({
  ...range,
  vehicle: idList(MAX_QUERY_IDS).optional(),
  company: idList(MAX_QUERY_IDS).optional(),
  format: z.enum(['json', 'msgpack', 'csv']).optional(),
  cursor,
  limit: count(SUMMARY_MAX_VEHICLES, 100),
  token,
}).refine(fromBeforeTo, FROM_BEFORE_TO);

/** A vehicle id as a cursor may carry it. */
export const cursorVehicleId = id;
