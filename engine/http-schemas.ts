import { z } from 'zod';
import { FleetlineError } from '../actors/domain/errors.js';

/**
 * The declared shape of every query string and path parameter the HTTP API reads, one schema
 * per route (zod: it parses strings into typed values and validates them in one declaration).
 * A request that does not match answers 400 with an error code from docs/errors.md; nothing
 * is read from a request any other way. Intake bodies are records validated one by one by
 * validatePoint (actors/domain/telemetry-point.ts), the per-point hot path.
 */

/** A decimal number as people write it: no hex, no exponent, no `Infinity`, no blanks. */
const DECIMAL = /^[+-]?\d+(\.\d+)?$/;
export const DIGITS = /^\d+$/;
/** Distinct ids one `ids=` may ask for. */
export const MAX_QUERY_IDS = 10_000;

export const decimal = z.string().regex(DECIMAL, 'must be a decimal number').transform(Number);
const longitude = decimal.pipe(z.number().min(-180).max(180));
const latitude = decimal.pipe(z.number().min(-90).max(90));

/** west,south,east,north in degrees; west > east crosses the antimeridian. */
export const bbox = z.string()
  .transform((s) => s.split(','))
  .pipe(z.tuple([longitude, latitude, longitude, latitude], { error: 'must be west,south,east,north' }))
  .refine(([, south, , north]) => south <= north, 'south must not be north of north');

const ID = /^\P{Cc}{1,128}$/u;
export const id = z.string().regex(ID, 'ids are 1-128 characters without control characters');

/** A comma-separated list, each entry once, in first-seen order. */
export const idList = (max: number) => z.string()
  .transform((s) => [...new Set(s.split(','))])
  .pipe(z.array(id).min(1).max(max, `at most ${max} distinct ids`));

export type VehicleListQuery = z.infer<ReturnType<typeof vehicleListQuerySchema>>;

/** GET /v1/vehicles */
export function vehicleListQuerySchema(snapshotLimit: number) {
  return z.strictObject({
    bbox: bbox.optional(),
    company: idList(MAX_QUERY_IDS).optional(),
    ids: idList(MAX_QUERY_IDS).optional(),
    limit: z.string().regex(DIGITS, 'must be an integer').transform(Number)
      .pipe(z.number().int().min(1).max(snapshotLimit)).default(snapshotLimit),
    token: z.string().optional(),
  });
}

/** GET /v1/vehicles/:id and the other read routes: only `?token=` may be given. */
export const tokenOnlyQuerySchema = z.strictObject({ token: z.string().optional() });

/**
 * Applies a query schema: a repeated parameter, an unknown one or a bad value throws
 * FleetlineError BAD_QUERY naming the parameter.
 */
export function parseQuery<S extends z.ZodType>(schema: S, query: URLSearchParams): z.output<S> {
  const fields: Record<string, string> = {};
  for (const [name, value] of query) {
    if (Object.hasOwn(fields, name)) throw new FleetlineError('BAD_QUERY', `${name}: given more than once`);
    fields[name] = value;
  }
  const result = schema.safeParse(fields);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue.code === 'unrecognized_keys') throw new FleetlineError('BAD_QUERY', `unknown query parameter ${issue.keys.join(', ')}`);
  const name = issue.path.length > 0 ? String(issue.path[0]) : 'query';
  throw new FleetlineError('BAD_QUERY', `${name}: ${issue.message}`);
}

/** The `:id` of /v1/vehicles/:id, percent-decoded. Throws FleetlineError BAD_PATH for a broken escape. */
export function vehicleIdParam(segment: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    throw new FleetlineError('BAD_PATH', 'the vehicle id holds a malformed percent-escape');
  }
  const result = id.safeParse(decoded);
  if (!result.success) throw new FleetlineError('BAD_PATH', `vehicle id: ${result.error.issues[0].message}`);
  return result.data;
}

/** POST /v1/admin/weight: a node's new share of the partitions. */
export const weightBodySchema = z.strictObject({ weight: z.number().finite().min(0).max(1000) });

/* Reference data bodies (PUT /v1/admin/<collection>/:id): the entity without its id, which is the path's. */
const name = z.string().min(1).max(200);
const speedLimit = z.number().finite().positive().max(1000);
const lonLat = z.tuple([z.number().min(-180).max(180), z.number().min(-90).max(90)]);
const metres = z.number().finite().positive().max(20_000_000);

/** GeoJSON order ([lon, lat]); a shape across the antimeridian is not supported (split it in two). */
export const geofenceShapeSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('polygon'), coordinates: z.array(z.array(lonLat).min(3).max(10_000)).min(1).max(100) }),
  z.strictObject({ type: z.literal('circle'), center: lonLat, radius: metres }),
  z.strictObject({ type: z.literal('corridor'), coordinates: z.array(lonLat).min(1).max(10_000), width: metres }),
]);

export const referenceBodySchemas = {
  company: z.strictObject({ name, active: z.boolean().default(true) }),
  vehicle: z.strictObject({ companyId: id, name: name.optional(), plate: z.string().min(1).max(32).optional(), type: z.string().min(1).max(32).optional(), speedLimit: speedLimit.optional() }),
  device: z.strictObject({ vehicleId: id.refine((v) => !v.startsWith('~'), 'vehicle ids starting with ~ are reserved for unbound devices') }),
  geofence: z.strictObject({ companyId: id, name, shape: geofenceShapeSchema, speedLimit: speedLimit.optional(), dwellS: z.number().finite().min(0).max(86_400).optional() }),
  driver: z.strictObject({ companyId: id, name, uniqueId: z.string().min(1).max(128).optional() }),
  group: z.strictObject({ companyId: id, name, vehicleIds: z.array(id).max(MAX_QUERY_IDS).transform((ids) => [...new Set(ids)]) }),
} as const;

/** The `:id` of an admin reference route, percent-decoded; device ids follow the intake's alphabet. */
export function referenceIdParam(segment: string, kind: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    throw new FleetlineError('BAD_PATH', `the ${kind} id holds a malformed percent-escape`);
  }
  const result = (kind === 'device' ? z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'device ids are 1-64 characters from [A-Za-z0-9_.:-]') : id).safeParse(decoded);
  if (!result.success) throw new FleetlineError('BAD_PATH', `${kind} id: ${result.error.issues[0].message}`);
  if (kind === 'vehicle' && decoded.startsWith('~')) throw new FleetlineError('BAD_PATH', 'vehicle ids starting with ~ are reserved for unbound devices');
  return result.data;
}
