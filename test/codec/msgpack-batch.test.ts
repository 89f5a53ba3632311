import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from '@msgpack/msgpack';
import { encodeMsgpack, encodeMsgpackBatch } from '../../adapters/codec/msgpack-codec.js';

const views = Array.from({ length: 500 }, (_, i) => ({
  id: `veh-${i}`, company: i % 3 === 0 ? null : 'acme', lat: 52.5 + i / 1e4, lon: 13.4, ts: 1_765_000_000_000 + i, speed: i % 90, moving: i % 2 === 0,
  attrs: { sat: 9, note: 'x'.repeat(i % 40) },
}));

describe('#11 encoding a publish\'s values in a few shared buffers', () => {
  it('gives each value the same bytes encodeMsgpack gives it, readable by a strict decoder', () => {
    const batch = encodeMsgpackBatch(views);
    assert.equal(batch.length, views.length);
    views.forEach((v, i) => {
      assert.deepEqual(Buffer.from(batch[i]), Buffer.from(encodeMsgpack(v)), `value ${i}`);
      assert.deepEqual(decode(batch[i], { useBigInt64: false }), v);
    });
  });

  it('shares a few buffers among the batch, and a value encoded afterwards is not in them', () => {
    const batch = encodeMsgpackBatch(views);
    const buffers = new Set(batch.map((b) => b.buffer));
    const bytes = batch.reduce((n, b) => n + b.byteLength, 0);
    assert.ok(buffers.size <= Math.ceil(bytes / 60_000) + 1, `${buffers.size} buffers for ${views.length} values of ${bytes} bytes (64 KiB each)`);
    const after = encodeMsgpack(views[0]);
    assert.ok(!buffers.has(after.buffer), 'a later single value keeps none of the batch\'s memory alive');
  });
});
