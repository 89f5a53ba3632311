import type { PositionRow } from '../../actors/ports/history-store.js';

/** The columns of positions in the order every COPY of this module sends them. */
export const POSITION_COLUMNS = 'vehicle_id, device_id, ts, lat, lon, speed, course, alt, ignition, fuel, odometer, attrs';

const FIELDS = 12;
/** 'PGCOPY\n\377\r\n\0', flags 0, header extension length 0. */
const HEADER = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
/** PostgreSQL's epoch (2000-01-01T00:00:00Z) in Unix ms: binary timestamptz counts microseconds from it. */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 2 ** 32;
/** Fixed bytes of one row besides its strings: field count, 12 lengths, the widest values. */
const ROW_FIXED = 2 + FIELDS * 4 + 8 + 8 + 8 + 4 + 4 + 4 + 1 + 4 + 8 + 1;

/**
 * Rows of positions in PostgreSQL's binary COPY format (COPY ... FROM STDIN (FORMAT binary)):
 * no text to format on this side or to parse on the server's, unlike the arrays of an
 * INSERT ... SELECT FROM unnest. One buffer: the header, the rows, the trailer.
 *   row: int16 field count, then per field int32 byte length (-1: NULL) and the value in the
 *   type's binary form (text: UTF-8; timestamptz: int64 µs since 2000; float8/float4: IEEE
 *   big-endian; bool: one byte; jsonb: version byte 1 and the JSON text).
 */
export function encodePositionsCopy(rows: readonly PositionRow[]): Buffer {
  return encodeRows(rows, true, true);
}

/** The same bytes in pieces of `chunkRows` rows (the header in the first, the trailer in the last). */
export function* positionsCopyChunks(rows: readonly PositionRow[], chunkRows = 10_000): Generator<Buffer> {
  const step = Math.max(1, chunkRows);
  if (rows.length === 0) yield encodeRows(rows, true, true);
  for (let start = 0; start < rows.length; start += step) {
    yield encodeRows(rows.slice(start, start + step), start === 0, start + step >= rows.length);
  }
}

function encodeRows(rows: readonly PositionRow[], header: boolean, trailer: boolean): Buffer {
  let size = HEADER.length + 2;
  for (const { vehicleId, point: p } of rows) {
    // UTF-8 takes at most 3 bytes per UTF-16 unit; attrs are sized exactly (rare and small).
    size += ROW_FIXED + 3 * (vehicleId.length + p.deviceId.length);
    if (p.attrs !== undefined) size += Buffer.byteLength(JSON.stringify(p.attrs));
  }
  const out = Buffer.allocUnsafe(size);
  let at = header ? HEADER.copy(out, 0) : 0;
  const text = (s: string) => {
    const n = out.write(s, at + 4, 'utf8');
    out.writeInt32BE(n, at);
    at += 4 + n;
  };
  const float8 = (v: number | undefined) => {
    if (v === undefined) { out.writeInt32BE(-1, at); at += 4; return; }
    out.writeInt32BE(8, at);
    out.writeDoubleBE(v, at + 4);
    at += 12;
  };
  const float4 = (v: number | undefined) => {
    if (v === undefined) { out.writeInt32BE(-1, at); at += 4; return; }
    out.writeInt32BE(4, at);
    out.writeFloatBE(v, at + 4);
    at += 8;
  };
  for (const { vehicleId, point: p } of rows) {
    out.writeInt16BE(FIELDS, at);
    at += 2;
    text(vehicleId);
    text(p.deviceId);
    // Within 2^53 for any date of this era, so two 32-bit halves need no BigInt per row.
    const micros = Math.round((p.ts - PG_EPOCH_MS) * 1000);
    const high = Math.floor(micros / TWO_32);
    out.writeInt32BE(8, at);
    out.writeInt32BE(high, at + 4);
    out.writeUInt32BE(micros - high * TWO_32, at + 8);
    at += 12;
    float8(p.lat);
    float8(p.lon);
    float4(p.speed);
    float4(p.course);
    float4(p.alt);
    if (p.ignition === undefined) {
      out.writeInt32BE(-1, at);
      at += 4;
    } else {
      out.writeInt32BE(1, at);
      out[at + 4] = p.ignition ? 1 : 0;
      at += 5;
    }
    float4(p.fuel);
    float8(p.odometer);
    if (p.attrs === undefined) {
      out.writeInt32BE(-1, at);
      at += 4;
    } else {
      out[at + 4] = 1; // jsonb binary format version
      const n = out.write(JSON.stringify(p.attrs), at + 5, 'utf8');
      out.writeInt32BE(n + 1, at);
      at += 5 + n;
    }
  }
  if (trailer) {
    out.writeInt16BE(-1, at);
    at += 2;
  }
  return out.subarray(0, at);
}
