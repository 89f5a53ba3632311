import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { start as startActorSystem, stop as stopActor, type Ref } from 'nact';
import { DeliveryHub } from '../../actors/delivery-hub.js';
import { FleetDirectory } from '../../actors/fleet-directory.js';
import { PartitionShard } from '../../actors/partition-shard.js';
import { SpatialStateIndex } from '../../actors/spatial-state-index.js';
import { noMetrics } from '../../actors/ports/engine-metrics.js';
import { silentLogger } from '../../actors/ports/logger.js';
import type { LogRecord } from '../../actors/ports/partitioned-log.js';
import { decodeRecordValue, encodeMsgpack } from '../../adapters/codec/msgpack-codec.js';
import { packSnapshot, unpackSnapshot } from '../../adapters/codec/snapshot-codec.js';
import { applyPoint, newVehicleState, toSnapshot } from '../../actors/vehicle-logic.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import type { VehicleSnapshot } from '../../actors/domain/vehicle-state.js';

const t0 = Date.now() - 60_000;
let offset = 0;
const record = (deviceId: string, ts: number, lat: number): LogRecord =>
  ({ topic: 'telemetry.raw', partition: 0, offset: offset++, key: deviceId, value: encodeMsgpack({ deviceId, ts, lat, lon: 13.4, speed: 40 }), timestamp: Date.now() });

/** The snapshot a vehicle's actor wrote after three points, through the stores' codec. */
function stored(vehicleId: string, deviceId: string): VehicleSnapshot {
  const state = newVehicleState({ vehicleId, company: 'A' }, deviceId, 0);
  const events: VehicleEvent[] = [];
  for (let k = 0; k < 3; k++) applyPoint(state, { deviceId, ts: t0 + k * 5000, lat: 52 + k * 0.001, lon: 13.4, speed: 40 }, events, t0 + k * 5000);
  const snap = toSnapshot(state);
  if (snap === null) throw new Error('no snapshot');
  return unpackSnapshot(packSnapshot(snap));
}

describe('#11 restored vehicles get their actor with their first message', () => {
  let system: Ref<unknown>;
  before(() => { system = startActorSystem(); });
  after(() => { stopActor(system); });

  it('#11 a restored vehicle is on the map and resident before it has an actor; its first point applies on the restored state; one retired before any message leaves cleanly', async () => {
    const directory = new FleetDirectory({
      companies: [{ id: 'A', name: 'A', active: true }],
      vehicles: [{ id: 'v1', companyId: 'A', name: 'one' }, { id: 'v2', companyId: 'A', name: 'two' }],
      devices: [{ deviceId: 'd1', vehicleId: 'v1' }, { deviceId: 'd2', vehicleId: 'v2' }],
    }, { accept: false, limit: 0 });
    const index = new SpatialStateIndex();
    const shard = new PartitionShard(0, 1, { system, directory, index, hub: new DeliveryHub(), metrics: noMetrics, logger: silentLogger, decodeRecord: decodeRecordValue });
    shard.beginRestore();
    assert.equal(shard.restore([stored('v1', 'd1'), stored('v2', 'd2')]), 2);
    shard.endRestore();
    assert.equal(shard.size, 2, 'both vehicles are resident');
    assert.equal(index.get('v1')?.lat, 52.002, 'the restored view is on the map');

    // v1's next point continues from its restored state: the odometer goes on from there.
    const odometerBefore = index.get('v1')?.odometer ?? 0;
    await shard.apply([record('d1', t0 + 15_000, 52.003)]);
    await shard.settled();
    const v1 = index.get('v1');
    assert.equal(v1?.lat, 52.003);
    assert.ok((v1?.odometer ?? 0) > odometerBefore, 'the odometer grew from the restored one');

    // v2 never had a message (no actor): retiring it completes, and the partition moves on.
    shard.retire('v2');
    const settled = await Promise.race([shard.settled().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
    assert.ok(settled, 'settled() resolves');
    assert.equal(index.get('v2'), undefined, 'the retired vehicle is off the map');
    assert.equal(shard.size, 1);
    shard.close();
  });
});
