import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FleetDirectory } from '../../actors/fleet-directory.js';
import { unboundVehicleId } from '../../actors/domain/reference-data.js';

const fleet = () => new FleetDirectory({
  companies: [{ id: 'A', name: 'A', active: true }],
  vehicles: [{ id: 'v1', companyId: 'A', name: 'one' }, { id: 'v2', companyId: 'A', name: 'two' }],
  devices: [{ deviceId: 'd1', vehicleId: 'v1' }],
}, { accept: true, limit: 10 });

describe('fleet directory: which vehicles leave the maps', () => {
  it('an unbound device\'s vehicle is retired once the device is bound to a real vehicle (no leftover ~dev actor)', () => {
    const d = fleet();
    const route = d.route('x');
    assert.ok(route.ok && route.profile.vehicleId === unboundVehicleId('x'));
    assert.equal(d.isRetired(unboundVehicleId('x')), false);
    const affected = d.apply({ kind: 'device', id: 'x', value: { deviceId: 'x', vehicleId: 'v2' } });
    assert.ok(affected.includes(unboundVehicleId('x')), 'the unbound vehicle is among the affected');
    assert.equal(d.isRetired(unboundVehicleId('x')), true);
    assert.equal(d.isRetired('v2'), false);
    const now = d.route('x');
    assert.ok(now.ok && now.profile.vehicleId === 'v2');
  });

  it('a vehicle of a deactivated company, or a deleted vehicle, is retired', () => {
    const d = fleet();
    assert.equal(d.isRetired('v1'), false);
    d.apply({ kind: 'vehicle', id: 'v2', value: null });
    assert.equal(d.isRetired('v2'), true);
    d.apply({ kind: 'company', id: 'A', value: { id: 'A', name: 'A', active: false } });
    assert.equal(d.isRetired('v1'), true);
  });
});
