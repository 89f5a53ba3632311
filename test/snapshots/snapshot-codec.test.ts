import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from '@msgpack/msgpack';
import { packSnapshot, unpackSnapshot } from '../../adapters/codec/snapshot-codec.js';
import { applyPoint, fromSnapshot, newVehicleState, RECENT_WINDOW, toSnapshot } from '../../actors/vehicle-logic.js';
import type { VehicleSnapshot } from '../../actors/domain/vehicle-state.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import { makeSnapshot } from './snapshot-fixtures.js';

describe('snapshot codec', () => {
  it('round-trips a snapshot exactly, the window as flat numbers with null speeds', () => {
    const s = makeSnapshot(7, 3);
    const back = unpackSnapshot(packSnapshot(s));
    assert.deepEqual(back, s);
    assert.equal(back.recent.length, 16 * 4);
    assert.ok(back.recent.includes(null));
  });

  it('writes standard MessagePack that any decoder reads: a version-2 tuple holding the view as a map', () => {
    const s = makeSnapshot(8, 1);
    const tuple = decode(packSnapshot(s)) as unknown[];
    assert.ok(Array.isArray(tuple));
    assert.equal(tuple[0], 2);
    assert.deepEqual(tuple.slice(1, 7), [s.vehicleId, s.deviceId, s.partition, s.view, s.recent, s.accepted]);
  });

  it('#11 round-trips a vehicle\'s whole domain state (segments, fuel window, NaN, nulls) in the compact layout, and reads the map layout earlier versions wrote', () => {
    const snap = drivenSnapshot();
    assert.ok(snap.domain?.segment, 'the fixture has an open segment');
    const back = unpackSnapshot(packSnapshot(snap));
    assert.deepEqual(back, snap);
    assert.ok(packSnapshot(snap).length < encode(snap).length * 0.85, 'the compact layout is smaller than the map layout');
    // Version 1, as stored by nodes before #11: the snapshot as one map.
    assert.deepEqual(unpackSnapshot(encode(snap)), snap);
    // A domain state missing fields (restored from an older snapshot) is kept as a map.
    const partial = { ...snap, domain: { moving: true, anchorTs: 5 } };
    assert.deepEqual(unpackSnapshot(packSnapshot(partial)), partial);
    const restored = fromSnapshot(unpackSnapshot(packSnapshot(snap)), { vehicleId: snap.vehicleId, company: null });
    const fromMap = fromSnapshot(unpackSnapshot(encode(snap)), { vehicleId: snap.vehicleId, company: null });
    assert.deepEqual(restored.domain, fromMap.domain);
    assert.deepEqual(restored.recent.toFlat(), fromMap.recent.toFlat());
  });

  it('#11 a restored vehicle is the stored one: view, domain state and segments equal in both layouts, an absent openedTs still absent', () => {
    const snap = drivenSnapshot();
    const profile = { vehicleId: snap.vehicleId, company: 'co-restored' };
    for (const bytes of [packSnapshot(snap), encode(snap)]) {
      const state = fromSnapshot(unpackSnapshot(bytes), profile);
      assert.equal(state.vehicleId, snap.vehicleId);
      assert.deepEqual(state.view, { ...snap.view, company: 'co-restored' });
      assert.deepEqual(toSnapshot(state)?.domain, snap.domain);
    }
    const segment = snap.domain?.segment;
    assert.ok(segment && segment.openedTs !== undefined, 'the fixture\'s open segment has its opening point');
    const older = { ...snap, domain: { ...snap.domain, segment: { ...segment, openedTs: undefined } } };
    const restored = fromSnapshot(unpackSnapshot(packSnapshot(older)), profile);
    assert.ok(restored.domain.segment !== null && !('openedTs' in restored.domain.segment), 'absent in an older snapshot: settled, and still absent');
  });

  it('#11 a restored view keeps every field the view type has: name, plate, type, status, geofences, fuel, attributes, alerts', () => {
    const base = drivenSnapshot();
    const view = {
      ...base.view, name: 'Truck 7', plate: 'B-FL 7', type: 'truck', course: 271.5, alt: 34, ignition: true, odometer: 1234.5,
      status: 'online' as const, geofences: ['depot'], fuel: 41.5, attrs: { sat: 9, driver: 'ivan', alarm: 'sos' }, alerts: ['alarm', 'overspeed'],
    };
    const snap = { ...base, view };
    for (const bytes of [packSnapshot(snap), encode(snap)]) {
      const state = fromSnapshot(unpackSnapshot(bytes), { vehicleId: snap.vehicleId, company: view.company });
      assert.deepEqual(state.view, view);
      assert.deepEqual(Object.keys(state.view ?? {}).sort(), Object.keys(view).sort());
    }
  });

  it('#11 SNAPSHOT_FORMAT=1 writes the map layout an older node reads (a rolling upgrade), and this version reads it back equal', () => {
    const snap = drivenSnapshot();
    const bytes = packSnapshot(snap, 1);
    const map = decode(bytes) as Record<string, unknown>;
    assert.ok(!Array.isArray(map), 'version 1 is one map, as nodes before version 2 read it');
    assert.equal(map.vehicleId, snap.vehicleId);
    assert.deepEqual(map.recent, snap.recent);
    assert.deepEqual(map.domain, snap.domain);
    assert.deepEqual(unpackSnapshot(bytes), snap);
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

/** A snapshot the engine wrote after a drive, a stop and a drive again: closed and open segments, a fuel window, no fuel baseline yet (NaN). */
function drivenSnapshot(): VehicleSnapshot {
  const state = newVehicleState({ vehicleId: 'veh-d', company: null }, 'dev-d', 3);
  const events: VehicleEvent[] = [];
  let ts = 1_700_000_000_000;
  let lat = 52.5;
  const step = (dLat: number, speed: number, fuel?: number) => {
    ts += 10_000;
    lat += dLat;
    applyPoint(state, { deviceId: 'dev-d', ts, lat, lon: 13.4, speed, ignition: true, ...(fuel !== undefined ? { fuel } : {}) }, events, ts);
  };
  for (let i = 0; i < 10; i++) step(0.002, 60);
  for (let i = 0; i < 40; i++) step(0, 0, i < 2 ? 40 : undefined);
  for (let i = 0; i < 5; i++) step(0.002, 50);
  const snap = toSnapshot(state);
  if (snap === null) throw new Error('no snapshot');
  return snap;
}
