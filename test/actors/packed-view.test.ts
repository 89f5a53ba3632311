import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newPackedView, packViewInto, unpackView } from '../../actors/packed-view.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import type { VehicleProfile } from '../../actors/vehicle-logic.js';

const profile: VehicleProfile = { vehicleId: 'veh-1', company: 'acme', name: 'Truck 1', plate: 'B-XY 1', type: 'truck' };
const full: VehicleView = {
  id: 'veh-1', company: 'old-co', name: 'Old name', plate: 'OLD', type: 'van', lat: 52.123456, lon: 13.654321, ts: 1_700_000_000_123,
  speed: 0, course: 359.9, alt: -12.5, ignition: false, fuel: 0, odometer: 123456.789, moving: false, attrs: { door: true },
  status: 'offline', geofences: ['gf-1', 'gf-2'], alerts: ['overspeed'],
};
const bare: VehicleView = { id: 'veh-1', company: null, lat: 52.1, lon: 13.6, ts: 1_700_000_005_000, speed: 12.5, moving: true };

describe('#11 the view a reorder-window checkpoint keeps packed', () => {
  it('#11 gives back the view with every optional field present or absent as it was, zero and false kept, the arrays shared', () => {
    const p = newPackedView();
    packViewInto(p, full);
    const back = unpackView(p, 'veh-1', profile, 'online');
    assert.deepEqual(back, { ...full, company: 'acme', name: 'Truck 1', plate: 'B-XY 1', type: 'truck', status: 'online' });
    assert.equal(back?.geofences, full.geofences);
    assert.equal(back?.attrs, full.attrs);
    packViewInto(p, bare);
    assert.deepEqual(unpackView(p, 'veh-1', { vehicleId: 'veh-1', company: null }, undefined), bare, 'a reused copy keeps nothing of the previous view');
  });

  it('#11 a vehicle without a view yet gives none back', () => {
    const p = newPackedView();
    assert.equal(unpackView(p, 'veh-1', profile, 'online'), null);
    packViewInto(p, full);
    packViewInto(p, null);
    assert.equal(unpackView(p, 'veh-1', profile, 'online'), null);
  });
});
