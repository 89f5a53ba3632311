import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from '@msgpack/msgpack';
import { packSnapshot, unpackSnapshot } from '../../adapters/codec/snapshot-codec.js';
import { fromSnapshot, RECENT_WINDOW } from '../../actors/vehicle-logic.js';
import { makeSnapshot } from './snapshot-fixtures.js';

describe('snapshot codec', () => {
  it('round-trips a snapshot exactly, the window as flat numbers with null speeds', () => {
    const s = makeSnapshot(7, 3);
    const back = unpackSnapshot(packSnapshot(s));
    assert.deepEqual(back, s);
    assert.equal(back.recent.length, 16 * 4);
    assert.ok(back.recent.includes(null));
  });

  it('writes standard MessagePack that any decoder reads', () => {
    const s = makeSnapshot(8, 1);
    assert.deepEqual(decode(packSnapshot(s)), s);
  });

  it('restores snapshots written with the earlier window format (a map per point)', () => {
    const s = makeSnapshot(9, 2);
    const points = [];
    for (let i = 0; i < s.recent.length; i += 4) {
      const [ts, lat, lon, speed] = s.recent.slice(i, i + 4);
      points.push(speed === null ? { deviceId: s.deviceId, ts, lat, lon } : { deviceId: s.deviceId, ts, lat, lon, speed });
    }
    const legacy = encode({ ...s, recent: points });
    const back = unpackSnapshot(legacy);
    assert.deepEqual(back, s);
    const state = fromSnapshot(back, { vehicleId: s.vehicleId, company: s.view.company });
    assert.equal(state.recent.length, RECENT_WINDOW);
    assert.deepEqual(state.recent.toFlat(), s.recent);
  });
});
