import type { ErrorCode } from './errors.js';

/** A validated, normalised telemetry point. */
export interface TelemetryPoint {
  readonly deviceId: string;
  /** ms since epoch */
  readonly ts: number;
  readonly lat: number;
  readonly lon: number;
  readonly speed?: number;
  readonly course?: number;
  readonly alt?: number;
  readonly ignition?: boolean;
  readonly fuel?: number;
  readonly odometer?: number;
  readonly attrs?: Readonly<Record<string, string | number | boolean>>;
}

export type PointValidation =
  | { readonly ok: true; readonly point: TelemetryPoint }
  | { readonly ok: false; readonly reason: ErrorCode };

const DEVICE_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const MAX_ATTRS = 32;
/**
 * Points further in the future than this are refused at intake: the ceiling of the vehicle
 * actor's filterFutureS (default 24 h, per vehicle), which decides below it.
 */
const MAX_FUTURE_MS = 30 * 86_400_000;
/** 2000-01-01: older timestamps are uninitialised GPS clocks. */
const MIN_TS = 946_684_800_000;

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** RFC 3339 date-time: a zone is required (a time without one has no single instant). */
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Milliseconds of an RFC 3339 date-time, or undefined for a malformed or impossible one (2026-02-30, 24:00). */
function parseIsoDateTime(v: string): number | undefined {
  const m = ISO_DATE_TIME.exec(v);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
  const offsetHours = m[10] === undefined ? 0 : Number(m[10]);
  const offsetMinutes = m[11] === undefined ? 0 : Number(m[11]);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return undefined;
  // Date.UTC rolls 02-30 over into March; a day that does not exist shows up as a different month.
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  if (new Date(utc).getUTCMonth() !== month - 1) return undefined;
  const fraction = m[7] === undefined ? 0 : Number(`0.${m[7]}`) * 1000;
  const offset = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  return utc + fraction - offset;
}

function parseTs(v: unknown, now: number): number | undefined {
  let ms: number | undefined;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string' && v.length <= 40) ms = parseIsoDateTime(v);
  if (ms === undefined || !Number.isFinite(ms) || ms < MIN_TS || ms > now + MAX_FUTURE_MS) return undefined;
  return Math.trunc(ms);
}

function parseAttrs(v: unknown): Record<string, string | number | boolean> | undefined | null {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return null;
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > MAX_ATTRS) return null;
  const out: Record<string, string | number | boolean> = {};
  for (const [k, val] of entries) {
    if (k.length > 64) return null;
    if (typeof val === 'string') {
      if (val.length > 256) return null;
    } else if (typeof val !== 'boolean' && !finite(val)) return null;
    out[k] = val as string | number | boolean;
  }
  return out;
}

/**
 * Validates one raw record (decoded JSON or MessagePack). Never throws: every way a record
 * can be wrong maps to one error code.
 */
export function validatePoint(raw: unknown, now: number = Date.now()): PointValidation {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'NOT_A_RECORD' };
  const r = raw as Record<string, unknown>;
  if (typeof r.deviceId !== 'string' || !DEVICE_ID.test(r.deviceId)) return { ok: false, reason: 'BAD_DEVICE_ID' };
  const ts = parseTs(r.ts, now);
  if (ts === undefined) return { ok: false, reason: 'BAD_TIMESTAMP' };
  if (!finite(r.lat) || r.lat < -90 || r.lat > 90) return { ok: false, reason: 'BAD_LATITUDE' };
  if (!finite(r.lon) || r.lon < -180 || r.lon > 180) return { ok: false, reason: 'BAD_LONGITUDE' };
  const point: {
    deviceId: string; ts: number; lat: number; lon: number; speed?: number; course?: number; alt?: number;
    ignition?: boolean; fuel?: number; odometer?: number; attrs?: Record<string, string | number | boolean>;
  } = { deviceId: r.deviceId, ts, lat: r.lat, lon: r.lon };
  if (r.speed !== undefined && r.speed !== null) {
    if (!finite(r.speed) || r.speed < 0 || r.speed > 2000) return { ok: false, reason: 'BAD_SPEED' };
    point.speed = r.speed;
  }
  if (r.course !== undefined && r.course !== null) {
    if (!finite(r.course) || r.course < 0 || r.course >= 360) return { ok: false, reason: 'BAD_COURSE' };
    point.course = r.course;
  }
  if (r.alt !== undefined && r.alt !== null) {
    if (!finite(r.alt)) return { ok: false, reason: 'BAD_ALTITUDE' };
    point.alt = r.alt;
  }
  if (r.ignition !== undefined && r.ignition !== null) {
    if (typeof r.ignition !== 'boolean') return { ok: false, reason: 'BAD_IGNITION' };
    point.ignition = r.ignition;
  }
  if (r.fuel !== undefined && r.fuel !== null) {
    if (!finite(r.fuel) || r.fuel < 0) return { ok: false, reason: 'BAD_FUEL' };
    point.fuel = r.fuel;
  }
  if (r.odometer !== undefined && r.odometer !== null) {
    if (!finite(r.odometer) || r.odometer < 0) return { ok: false, reason: 'BAD_ODOMETER' };
    point.odometer = r.odometer;
  }
  const attrs = parseAttrs(r.attrs);
  if (attrs === null) return { ok: false, reason: 'BAD_ATTRS' };
  if (attrs !== undefined) point.attrs = attrs;
  return { ok: true, point };
}
