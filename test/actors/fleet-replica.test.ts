import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { DeliveryHub, type DeliveryTarget, type Update } from '../../actors/delivery-hub.js';
import { FleetReplica } from '../../actors/fleet-replica.js';
import type { LiveBatch } from '../../actors/live-updates.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import { noMetrics, type EngineMetrics } from '../../actors/ports/engine-metrics.js';
import { silentLogger } from '../../actors/ports/logger.js';
import { SpatialStateIndex } from '../../actors/spatial-state-index.js';
import { decodeRecordValue, encodeMsgpack } from '../../adapters/codec/msgpack-codec.js';

const view = (id: string, ts: number, over: Partial<VehicleView> = {}): VehicleView => ({ id, company: 'A', lat: 52.5, lon: 13.4, ts, speed: 30, moving: true, ...over });

function setup(owned: number[] = []) {
  const index = new SpatialStateIndex();
  const hub = new DeliveryHub();
  const seen: { updates: Update[]; events: VehicleEvent[] } = { updates: [], events: [] };
  const admin: DeliveryTarget = { grant: null, deliver: (u, e) => { seen.updates.push(...u); seen.events.push(...e); } };
  hub.attach(admin);
  const rejected: string[] = [];
  const metrics: EngineMetrics = { ...noMetrics, pointRejected: (reason, source) => rejected.push(`${source}:${reason}`) };
  const replica = new FleetReplica({ index, hub, metrics, logger: silentLogger, decodeRecord: decodeRecordValue, owns: (p) => owned.includes(p) });
  return { index, replica, seen, rejected };
}

const batch = (p: number, views: VehicleView[], extra: Partial<LiveBatch> = {}): LiveBatch => ({ p, v: views, r: views.map(() => 1), g: [], e: [], ...extra });

describe('fleet replica: vehicles other nodes own, served from vehicle.live', () => {
  it('a vehicle of another node enters the index and reaches local subscribers as a delta; a newer view sends only what changed', async () => {
    const { index, replica, seen } = setup();
    replica.apply(batch(3, [view('v1', 1000)]));
    replica.apply(batch(3, [view('v1', 2000, { speed: 50 })]));
    await turn();
    assert.equal(index.get('v1')?.speed, 50);
    assert.equal(seen.updates.length, 2);
    assert.equal(seen.updates[0].delta?.lat, 52.5, 'the first delta carries the whole view');
    assert.deepEqual(seen.updates[1].delta, { id: 'v1', ts: 2000, speed: 50 });
  });

  it('an older view (a replay or the previous owner\'s last flush) never moves a vehicle back', async () => {
    const { index, replica, seen } = setup();
    replica.apply(batch(1, [view('v1', 2000, { lat: 50 })]));
    replica.apply(batch(1, [view('v1', 1000, { lat: 40 })]));
    await turn();
    assert.equal(index.get('v1')?.lat, 50);
    assert.equal(seen.updates.length, 1);
  });

  it('vehicles of partitions this node owns are left to its own actors', async () => {
    const { index, replica, seen } = setup([2]);
    replica.apply(batch(2, [view('v1', 1000)], { e: [{ id: 'v1:overspeed_start:1000', vehicleId: 'v1', company: 'A', type: 'overspeed_start', ts: 1000, lat: 1, lon: 1 }] }));
    await turn();
    assert.equal(index.size, 0);
    assert.equal(seen.updates.length + seen.events.length, 0);
  });

  it('a retired vehicle leaves the index and every map; events reach subscribers; a company change removes it from the old company', async () => {
    const { index, replica, seen } = setup();
    replica.apply(batch(0, [view('v1', 1000), view('v2', 1000)]));
    replica.apply(batch(0, [view('v2', 1500, { company: 'B' })], { g: [['v1', 'A']], e: [{ id: 'v2:overspeed_start:1500', vehicleId: 'v2', company: 'B', type: 'overspeed_start', ts: 1500, lat: 1, lon: 1 }] }));
    await turn();
    assert.equal(index.get('v1'), undefined);
    const removals = seen.updates.filter((u) => u.view === null).map((u) => `${u.id}@${u.company}`).sort();
    assert.deepEqual(removals, ['v1@A', 'v2@A']);
    assert.equal(index.get('v2')?.company, 'B');
    assert.deepEqual(seen.events.map((e) => e.id), ['v2:overspeed_start:1500']);
  });

  it('a record that is not a live batch is counted and skipped; the records after it apply', async () => {
    const { index, replica, rejected } = setup();
    const good = encodeMsgpack(batch(0, [view('v9', 1000)]));
    replica.applyRecords([
      { topic: 'vehicle.live', partition: 0, offset: 0, key: '0', value: new Uint8Array([0xc1]), timestamp: 0 },
      { topic: 'vehicle.live', partition: 0, offset: 1, key: '0', value: encodeMsgpack({ hello: 1 }), timestamp: 0 },
      { topic: 'vehicle.live', partition: 0, offset: 2, key: '0', value: good, timestamp: 0 },
    ]);
    assert.deepEqual(rejected, ['live:UNDECODABLE', 'live:UNDECODABLE']);
    assert.ok(index.get('v9'));
  });
});
