/**
 * Encodes `d` frames from entries encoded beforehand, so that one vehicle change is encoded
 * once and its bytes go into every client's frame that carries it (adapters/codec/frame-assembly.ts).
 */
export interface FrameEncoder {
  /** One entry of a `d` frame's `u` array, as standard MessagePack. */
  entry(value: unknown): Uint8Array;
  /** `{t: "d", seq, u: [...entries]}`: the entries' bytes copied after the array header. */
  deltaFrame(seq: number, entries: readonly Uint8Array[]): Uint8Array;
}
