import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyPoint, diff, fromSnapshot, newVehicleState, RECENT_WINDOW, toSnapshot, type VehicleProfile } from '../../actors/vehicle-logic.js';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';

const profile: VehicleProfile = { vehicleId: 'veh-1', company: 'acme', name: 'Truck 1', plate: 'B-AC 1', speedLimit: 50 };
const t0 = 1_700_000_000_000;
const pt = (i: number, extra: Partial<TelemetryPoint> = {}): TelemetryPoint => ({ deviceId: 'dev-1', ts: t0 + i * 1000, lat: 52.5 + i * 0.0005, lon: 13.4, ...extra });

describe('vehicle actor logic', () => {
  it('first point yields the full view as delta', () => {
    const s = newVehicleState(profile, 'dev-1', 3);
    const out = applyPoint(s, pt(0, { speed: 20 }), []);
    assert.equal(out.accepted, true);
    if (!out.accepted || out.delta === null) return assert.fail('no delta');
    assert.equal(out.delta.id, 'veh-1');
    assert.equal(out.delta.lat, 52.5);
    assert.equal(out.delta.company, 'acme');
    assert.equal(out.delta.name, 'Truck 1');
    // Motion has hysteresis: one point at speed is not a trip yet.
    assert.equal(out.delta.moving, false);
    assert.equal(out.delta.odometer, 0);
  });

  it('later points carry only the changed fields', () => {
    const s = newVehicleState(profile, 'dev-1', 3);
    applyPoint(s, pt(0, { speed: 20, ignition: true }), []);
    const out = applyPoint(s, pt(1, { speed: 20, ignition: true }), []);
    assert.ok(out.accepted);
    if (!out.accepted || out.delta === null) return assert.fail('no delta');
    assert.deepEqual(Object.keys(out.delta).sort(), ['course', 'id', 'lat', 'odometer', 'ts']);
  });

  it('#10 drops duplicates; an older point is late (history only) and keeps the live state', () => {
    const s = newVehicleState(profile, 'dev-1', 3);
    applyPoint(s, pt(5), []);
    const dup = applyPoint(s, pt(5, { lat: 10 }), []);
    const old = applyPoint(s, pt(4, { lat: 52.5 }), []);
    assert.deepEqual(dup, { accepted: false, reason: 'DUPLICATE' });
    assert.deepEqual(old, { accepted: true, delta: null, moved: false, late: true });
    assert.equal(s.view?.lat, pt(5).lat);
    assert.equal(s.accepted, 1);
  });

  it('derives speed, course and odometer when the device does not send them', () => {
    const s = newVehicleState(profile, 'dev-1', 0);
    applyPoint(s, { deviceId: 'dev-1', ts: t0, lat: 52.5, lon: 13.4, odometer: 100 }, []);
    // ~111 m north in 10 s ≈ 40 km/h
    applyPoint(s, { deviceId: 'dev-1', ts: t0 + 10_000, lat: 52.501, lon: 13.4 }, []);
    assert.ok(s.view && Math.abs(s.view.speed - 40) < 1, `speed ${s.view?.speed}`);
    assert.ok(s.view && (s.view.course === 0 || s.view.course === 360 || (s.view.course ?? 99) < 0.5));
    assert.ok(s.view && Math.abs((s.view.odometer ?? 0) - 100.111) < 0.002);
  });

  it('keeps a bounded rolling window of recent points', () => {
    const s = newVehicleState(profile, 'dev-1', 0);
    for (let i = 0; i < RECENT_WINDOW * 3; i++) applyPoint(s, pt(i), []);
    assert.equal(s.recent.length, RECENT_WINDOW);
    // Flat in the snapshot, oldest first: [ts, lat, lon, speed, …].
    const flat = s.recent.toFlat();
    assert.equal(flat.length, RECENT_WINDOW * 4);
    const oldest = pt(RECENT_WINDOW * 2);
    const newest = pt(RECENT_WINDOW * 3 - 1);
    assert.deepEqual(flat.slice(0, 4), [oldest.ts, oldest.lat, oldest.lon, oldest.speed ?? null]);
    assert.deepEqual(flat.slice(-4), [newest.ts, newest.lat, newest.lon, newest.speed ?? null]);
    // Round trip through a snapshot keeps the window, and the ring goes on from it.
    const back = fromSnapshot(toSnapshot(s)!, profile);
    assert.deepEqual(back.recent.toFlat(), flat);
    applyPoint(back, pt(RECENT_WINDOW * 3), []);
    assert.deepEqual(back.recent.toFlat(), [...flat.slice(4), pt(RECENT_WINDOW * 3).ts, pt(RECENT_WINDOW * 3).lat, pt(RECENT_WINDOW * 3).lon, pt(RECENT_WINDOW * 3).speed ?? null]);
  });

  it('diff of identical views is the id alone', () => {
    const s = newVehicleState(profile, 'dev-1', 0);
    applyPoint(s, pt(0), []);
    assert.deepEqual(diff(s.view, { ...s.view! }), { id: 'veh-1' });
  });
});
