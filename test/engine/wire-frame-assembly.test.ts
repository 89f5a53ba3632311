import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode } from '@msgpack/msgpack';
import { assembleDeltaFrame, msgpackFrameEncoder } from '../../adapters/codec/frame-assembly.js';
import { encodeMsgpack } from '../../adapters/codec/msgpack-codec.js';
import { familiesOf, integersSentAsFloats, msgpackFormats } from '../support/msgpack-formats.js';

const entry = (i: number) => ({ id: `v${i}`, lat: 52.5 + i / 1000, lon: 13.4, ts: 1_767_000_000_000 + i, speed: i % 90, alerts: i % 7 === 0 ? ['alarm'] : undefined });

describe('#9 encode once: the assembled d frame is standard MessagePack', () => {
  // Every width of the seq integer and of the array header (fixarray, array16, array32).
  for (const [seq, count] of [[0, 0], [1, 1], [127, 15], [128, 16], [255, 300], [65_535, 2], [65_536, 70_000], [2 ** 32, 3], [2 ** 53 - 1, 1]]) {
    it(`#9 seq ${seq} with ${count} entries decodes strictly to {t:"d", seq, u}, integers as integers`, () => {
      const values = Array.from({ length: count }, (_, i) => entry(i));
      const bytes = assembleDeltaFrame(seq, values.map((v) => msgpackFrameEncoder.entry(v)));
      assert.deepEqual(decode(bytes), decode(encodeMsgpack({ t: 'd', seq, u: values })), 'the same value as the frame encoded whole');
      assert.equal((decode(bytes) as { seq: number }).seq, seq);
      assert.deepEqual(integersSentAsFloats(bytes), []);
      assert.ok(familiesOf(bytes, ['seq', 'ts']).every((f) => f.family === 'int'));
      assert.doesNotThrow(() => msgpackFormats(bytes), 'no byte after the frame, none missing');
    });
  }
});
