import type { FrameEncoder } from '../../actors/ports/frame-encoder.js';
import { encodeMsgpack } from './msgpack-codec.js';

/** fixmap(3), "t": "d", "seq" — the `u` key and its array header follow the seq. */
const D_HEAD = Uint8Array.of(0x83, 0xa1, 0x74, 0xa1, 0x64, 0xa3, 0x73, 0x65, 0x71);
const U_KEY = Uint8Array.of(0xa1, 0x75);

/**
 * Writes a `d` frame around entries that are each one complete MessagePack value: the frame is
 * the same standard MessagePack a whole-frame encode would give (keys in another order at most),
 * and an entry shared by many clients is copied, never re-encoded.
 */
export function assembleDeltaFrame(seq: number, entries: readonly Uint8Array[]): Uint8Array {
  let size = D_HEAD.length + uintSize(seq) + U_KEY.length + arrayHeaderSize(entries.length);
  for (const e of entries) size += e.byteLength;
  const out = Buffer.allocUnsafe(size);
  out.set(D_HEAD, 0);
  let pos = writeUint(out, D_HEAD.length, seq);
  out.set(U_KEY, pos);
  pos = writeArrayHeader(out, pos + U_KEY.length, entries.length);
  for (const e of entries) {
    out.set(e, pos);
    pos += e.byteLength;
  }
  return out;
}

function uintSize(n: number): number {
  if (n <= 0x7f) return 1;
  if (n <= 0xff) return 2;
  if (n <= 0xffff) return 3;
  if (n <= 0xffff_ffff) return 5;
  return 9;
}

function writeUint(b: Buffer, pos: number, n: number): number {
  if (n <= 0x7f) { b[pos] = n; return pos + 1; }
  if (n <= 0xff) { b[pos] = 0xcc; b[pos + 1] = n; return pos + 2; }
  if (n <= 0xffff) { b[pos] = 0xcd; b.writeUInt16BE(n, pos + 1); return pos + 3; }
  if (n <= 0xffff_ffff) { b[pos] = 0xce; b.writeUInt32BE(n, pos + 1); return pos + 5; }
  b[pos] = 0xcf;
  b.writeBigUInt64BE(BigInt(n), pos + 1);
  return pos + 9;
}

function arrayHeaderSize(n: number): number {
  return n <= 15 ? 1 : n <= 0xffff ? 3 : 5;
}

function writeArrayHeader(b: Buffer, pos: number, n: number): number {
  if (n <= 15) { b[pos] = 0x90 | n; return pos + 1; }
  if (n <= 0xffff) { b[pos] = 0xdc; b.writeUInt16BE(n, pos + 1); return pos + 3; }
  b[pos] = 0xdd;
  b.writeUInt32BE(n, pos + 1);
  return pos + 5;
}

/** The engine's frame encoder: entries by the standard codec, frames assembled around them. */
export const msgpackFrameEncoder: FrameEncoder = { entry: encodeMsgpack, deltaFrame: assembleDeltaFrame };
