import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WindowPoints } from '../../actors/window-points.js';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';

const full: TelemetryPoint = {
  deviceId: 'dev-1', ts: 1_700_000_000_123, lat: 52.123456, lon: 13.654321, speed: 0, course: 359.9, alt: -12.5,
  ignition: false, fuel: 41.2, odometer: 123456.789, attrs: { alarm: 'sos', driver: 'D-7', door: true },
};
const bare: TelemetryPoint = { deviceId: 'dev-1', ts: 1_700_000_005_123, lat: 52.1235, lon: 13.6544 };
const lit: TelemetryPoint = { deviceId: 'dev-2', ts: 1_700_000_010_123, lat: 52.1236, lon: 13.6545, ignition: true, speed: 33.3 };

describe('#11 the reorder window\'s packed points', () => {
  it('#11 gives back each point as it was pushed: every optional field present or absent as it was, zero and false kept', () => {
    const w = new WindowPoints();
    for (const p of [full, bare, lit]) w.push(p);
    assert.equal(w.length, 3);
    assert.deepEqual([w.at(0), w.at(1), w.at(2)], [full, bare, lit]);
    assert.equal(w.at(0).attrs, full.attrs, 'the attributes are the same object');
    assert.deepEqual([w.tsAt(0), w.tsAt(1), w.tsAt(2)], [full.ts, bare.ts, lit.ts]);
  });

  it('#11 drops the oldest points and takes the newest out in order', () => {
    const w = new WindowPoints();
    for (const p of [full, bare, lit]) w.push(p);
    w.dropFirst(1);
    assert.deepEqual(w.at(0), bare);
    const taken = w.takeFrom(1);
    assert.deepEqual(taken, [lit]);
    assert.equal(w.length, 1);
    assert.deepEqual(w.at(0), bare);
    w.push(full);
    assert.deepEqual(w.takeFrom(0), [bare, full]);
    assert.equal(w.length, 0);
    w.push(lit);
    w.dropFirst(5);
    assert.equal(w.length, 0);
  });
});
