import { test } from 'node:test';
import assert from 'node:assert/strict';
import { derive, type VehicleRef } from '../../loadtest/baseline/vehicle-derivation.js';
import { haversineKm } from '../../actors/domain/geo.js';

const ref: VehicleRef = { vehicleId: 'v1', company: 'A', active: true, name: 'One', speedLimit: 60 };
const settings = { movingSpeedKmh: 3, speedLimitKmh: 0 };
const T = 1_700_000_000_000;

test('#11 baseline derivation: implied speed, odometer and course from the previous state, full view first then deltas', () => {
  const first = derive(ref, null, { deviceId: 'd1', ts: T, lat: 52.5, lon: 13.4 }, settings);
  assert.ok(first.ok);
  assert.equal(first.derived.prevTs, 0);
  assert.equal(first.derived.delta.name, 'One', 'a first point carries the full view');
  assert.equal(first.derived.state.view.moving, false);
  const second = derive(ref, first.derived.state, { deviceId: 'd1', ts: T + 60_000, lat: 52.51, lon: 13.4 }, settings);
  assert.ok(second.ok);
  const km = haversineKm(52.5, 13.4, 52.51, 13.4);
  assert.equal(second.derived.state.view.speed, Math.round(km * 60 * 10) / 10);
  assert.equal(second.derived.state.view.odometer, Math.round(km * 1000) / 1000);
  assert.equal(second.derived.state.view.course, 0, 'due north');
  assert.equal(second.derived.prevTs, T);
  assert.equal(second.derived.delta.name, undefined, 'a delta carries only what changed');
  assert.equal(second.derived.delta.moving, true);
});

test('#11 baseline derivation: duplicates and older points are dropped; overspeed starts and ends once', () => {
  const a = derive(ref, null, { deviceId: 'd1', ts: T, lat: 52.5, lon: 13.4, speed: 70 }, settings);
  assert.ok(a.ok);
  assert.deepEqual(a.derived.events.map((e) => e.type), ['overspeed_start']);
  assert.deepEqual(derive(ref, a.derived.state, { deviceId: 'd1', ts: T, lat: 52.5, lon: 13.4 }, settings), { ok: false, reason: 'DUPLICATE' });
  assert.deepEqual(derive(ref, a.derived.state, { deviceId: 'd1', ts: T - 1, lat: 52.5, lon: 13.4 }, settings), { ok: false, reason: 'OUT_OF_ORDER' });
  const b = derive(ref, a.derived.state, { deviceId: 'd1', ts: T + 5_000, lat: 52.5005, lon: 13.4, speed: 75 }, settings);
  assert.ok(b.ok);
  assert.equal(b.derived.events.length, 0, 'still over: no second start');
  const c = derive(ref, b.derived.state, { deviceId: 'd1', ts: T + 10_000, lat: 52.501, lon: 13.4, speed: 50 }, settings);
  assert.ok(c.ok);
  assert.deepEqual(c.derived.events.map((e) => [e.type, e.id]), [['overspeed_end', `v1:overspeed_end:${T + 10_000}`]]);
});
