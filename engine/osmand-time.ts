import { FleetlineError } from '../actors/domain/errors.js';

/** Times of OsmAnd reports, read as Traccar reads them. */

const INTEGER_MAX = 2_147_483_647;

/**
 * Traccar's `timestamp` rule: an integer below 2^31 - 1 is seconds, a larger one milliseconds;
 * text holding a `T` is ISO 8601; anything else is `yyyy-MM-dd HH:mm:ss`. Traccar reads a
 * time without a zone in its server's zone; Fleetline reads it as UTC.
 */
export function osmandTimestamp(value: string): number {
  if (/^[+-]?\d{1,19}$/.test(value)) {
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

export function isoDateTime(value: string): number | undefined {
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
