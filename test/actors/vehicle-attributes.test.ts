import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyPoint, fromSnapshot, newVehicleState, toSnapshot, type VehicleProfile } from '../../actors/vehicle-logic.js';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import type { VehicleDelta } from '../../actors/domain/vehicle-state.js';

const profile: VehicleProfile = { vehicleId: 'veh-1', company: 'acme' };
const t0 = 1_700_000_000_000;
const pt = (i: number, attrs?: TelemetryPoint['attrs']): TelemetryPoint => ({ deviceId: 'dev-1', ts: t0 + i * 1000, lat: 52.5 + i * 0.0001, lon: 13.4, speed: 20, ...(attrs ? { attrs } : {}) });

function deltaOf(out: ReturnType<typeof applyPoint>): VehicleDelta {
  assert.ok(out.accepted && out.delta !== null);
  return out.delta;
}

describe('#10 device attributes in the vehicle view', () => {
  it('#10 the view carries the latest attributes; a delta carries them only when they changed', () => {
    const s = newVehicleState(profile, 'dev-1', 0);
    assert.deepEqual(deltaOf(applyPoint(s, pt(0, { batteryLevel: 80, rpm: 900 }), [])).attrs, { batteryLevel: 80, rpm: 900 });
    assert.equal('attrs' in deltaOf(applyPoint(s, pt(1, { rpm: 900, batteryLevel: 80 }), [])), false, 'equal attributes: not in the delta');
    assert.equal('attrs' in deltaOf(applyPoint(s, pt(2), [])), false, 'a point without attributes keeps the last ones');
    assert.deepEqual(s.view?.attrs, { batteryLevel: 80, rpm: 900 });
    assert.deepEqual(deltaOf(applyPoint(s, pt(3, { batteryLevel: 79 }), [])).attrs, { batteryLevel: 79 }, 'a new map replaces the last one, whole');
    assert.deepEqual(deltaOf(applyPoint(s, pt(4, {}), [])).attrs, {}, 'an empty map clears them');
  });

  it('#10 attributes survive a snapshot and restore', () => {
    const s = newVehicleState(profile, 'dev-1', 0);
    applyPoint(s, pt(0, { driverUniqueId: 'D-1', ignition: true }), []);
    const snapshot = toSnapshot(s);
    assert.ok(snapshot);
    assert.deepEqual(fromSnapshot(structuredClone(snapshot), profile).view?.attrs, { driverUniqueId: 'D-1', ignition: true });
  });
});
