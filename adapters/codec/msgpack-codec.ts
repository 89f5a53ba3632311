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

export function encodeMsgpack(value: unknown): Uint8Array {
  return packr.pack(value);
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
