import { Packr } from 'msgpackr';

/**
 * Standard MessagePack only: no records, no msgpackr extensions, undefined as nil. Any
 * conforming decoder in any language must read what this writes (tested with @msgpack/msgpack).
 */
const packr = new Packr({
  useRecords: false,
  encodeUndefinedAsNil: true,
  mapsAsObjects: true,
  moreTypes: false,
  bundleStrings: false,
  int64AsType: 'number',
});

/** Every integer goes out in an integer format, every other number as float64. */
export function encodeMsgpack(value: unknown): Uint8Array {
  const bytes = packr.pack(value);
  integerFloatsToInts(bytes);
  return bytes;
}

/**
 * A batch's buffers: 256 bytes a value (a point ~150, a view ~250–400), at least msgpackr's own
 * 8 KiB, at most 64 KiB; msgpackr takes another of the same size whenever one fills. A value's
 * bytes keep their buffer alive as long as any of them is held (the embedded log keeps the
 * telemetry topics' values as they come until they are committed), so a buffer is never much
 * larger than what its values fill.
 */
const BATCH_BYTES_PER_VALUE = 256;
const SINGLE_BUFFER_BYTES = 8192;
const MAX_BATCH_BUFFER_BYTES = 65_536;

/**
 * Encodes many values (as encodeMsgpack each) into a few shared buffers: each value's bytes are
 * a view of one. Alone, msgpackr takes a fresh 8 KiB buffer (Buffer.allocUnsafeSlow, a new
 * backing store each) every ~20 values of a few hundred bytes: 5.3 % of a node's main thread
 * in `npm run bench:apply`, at the checkpoints that publish every changed view. Afterwards
 * msgpackr gets a small buffer of its own again, so no later single value keeps this batch's
 * memory alive.
 */
export function encodeMsgpackBatch(values: readonly unknown[]): Uint8Array[] {
  if (values.length <= 8) return values.map(encodeMsgpack);
  packr.useBuffer(Buffer.allocUnsafeSlow(Math.min(MAX_BATCH_BUFFER_BYTES, Math.max(SINGLE_BUFFER_BYTES, values.length * BATCH_BYTES_PER_VALUE))));
  try {
    return values.map(encodeMsgpack);
  } finally {
    packr.useBuffer(Buffer.allocUnsafeSlow(SINGLE_BUFFER_BYTES));
  }
}

const TWO_32 = 0x1_0000_0000;
// A float64 is read through these (bytes reversed: MessagePack is big-endian), never a DataView per call.
const scratch = new Float64Array(1);
const scratchBytes = new Uint8Array(scratch.buffer);
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * msgpackr writes integers outside the 32-bit ranges as float64 (0xcb) and has no option
 * against it; strictly typed decoders (Go, Rust, Java) then refuse a timestamp. A float64
 * holding a safe integer is rewritten in place as uint64 (0xcf) or int64 (0xd3): the same
 * nine bytes, so nothing moves and nothing is allocated. The walk counts values left to
 * read instead of recursing, and skips string, binary and extension payloads.
 */
function integerFloatsToInts(b: Uint8Array): void {
  let pos = 0;
  let values = 1;
  while (values > 0 && pos < b.length) {
    values--;
    const f = b[pos];
    if (f <= 0x7f || f >= 0xe0) pos += 1;
    else if (f <= 0x8f) { values += 2 * (f & 0x0f); pos += 1; }
    else if (f <= 0x9f) { values += f & 0x0f; pos += 1; }
    else if (f <= 0xbf) pos += 1 + (f & 0x1f);
    else if (f === 0xcb) {
      for (let i = 0; i < 8; i++) scratchBytes[HOST_LITTLE_ENDIAN ? i : 7 - i] = b[pos + 8 - i];
      const v = scratch[0];
      if (Number.isSafeInteger(v)) writeInt64(b, pos, v);
      pos += 9;
    } else if (f >= 0xdc) {
      const wide = f === 0xdd || f === 0xdf;
      const count = wide ? uint32(b, pos + 1) : (b[pos + 1] << 8) | b[pos + 2];
      values += f >= 0xde ? 2 * count : count;
      pos += wide ? 5 : 3;
    } else pos += scalarLength(b, pos, f);
  }
}

function writeInt64(b: Uint8Array, pos: number, v: number): void {
  const high = Math.floor(v / TWO_32); // two's complement high word for negatives
  const low = v - high * TWO_32;
  b[pos] = v < 0 ? 0xd3 : 0xcf;
  for (let i = 0; i < 4; i++) {
    b[pos + 4 - i] = (high >>> (8 * i)) & 0xff;
    b[pos + 8 - i] = (low >>> (8 * i)) & 0xff;
  }
}

function uint32(b: Uint8Array, pos: number): number {
  return ((b[pos] << 24) >>> 0) + ((b[pos + 1] << 16) | (b[pos + 2] << 8) | b[pos + 3]);
}

/** Bytes taken by a value of format byte `f` in 0xc0..0xdb (no containers). */
function scalarLength(b: Uint8Array, pos: number, f: number): number {
  switch (f) {
    case 0xc0: case 0xc2: case 0xc3: return 1;
    case 0xc4: case 0xd9: return 2 + b[pos + 1];
    case 0xc5: case 0xda: return 3 + ((b[pos + 1] << 8) | b[pos + 2]);
    case 0xc6: case 0xdb: return 5 + uint32(b, pos + 1);
    case 0xc7: return 3 + b[pos + 1];
    case 0xc8: return 4 + ((b[pos + 1] << 8) | b[pos + 2]);
    case 0xc9: return 6 + uint32(b, pos + 1);
    case 0xca: case 0xce: case 0xd2: return 5;
    case 0xcc: case 0xd0: return 2;
    case 0xcd: case 0xd1: return 3;
    case 0xcf: case 0xd3: return 9;
    case 0xd4: return 3;
    case 0xd5: return 4;
    case 0xd6: return 6;
    case 0xd7: return 10;
    case 0xd8: return 18;
    default: throw new Error(`msgpackr wrote the unused format byte 0x${f.toString(16)}`);
  }
}

export class DecodeError extends Error {
  readonly code = 'UNDECODABLE';
}

/** Decodes untrusted bytes; throws DecodeError (never anything else) on malformed input. */
export function decodeMsgpack(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (e) {
    throw new DecodeError(`malformed MessagePack: ${(e as Error).message}`);
  }
}

/** Decodes a JSON document from bytes; throws DecodeError on malformed input. */
export function decodeJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw new DecodeError(`malformed JSON: ${(e as Error).message}`);
  }
}

/**
 * Records on telemetry.raw may come from foreign producers as JSON or MessagePack: a JSON
 * document starts with `{` or `[` (after optional whitespace), a MessagePack map never does.
 */
export function decodeRecordValue(bytes: Uint8Array): unknown {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  const first = bytes[i];
  if (first === 0x7b || first === 0x5b) return decodeJson(bytes);
  return decodeMsgpack(bytes);
}
