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

const t0 = Date.now() - 60_000;
let offset = 0;
const record = (deviceId: string, ts: number, lat: number): LogRecord =>
  ({ topic: 'telemetry.raw', partition: 0, offset: offset++, key: deviceId, value: encodeMsgpack({ deviceId, ts, lat, lon: 13.4 }), timestamp: Date.now() });

describe('#7.6 retiring a vehicle (its company deactivated) never stops its partition', () => {
  let system: Ref<unknown>;
  before(() => { system = startActorSystem(); });
  after(() => { stopActor(system); });

  it('#7.6 points queued at a retired vehicle complete: the batch and the partition move on, release settles, the vehicle stays off the map', async () => {
    const directory = new FleetDirectory({
      companies: [{ id: 'A', name: 'A', active: true }],
      vehicles: [{ id: 'v1', companyId: 'A', name: 'one' }, { id: 'v2', companyId: 'A', name: 'two' }],
      devices: [{ deviceId: 'd1', vehicleId: 'v1' }, { deviceId: 'd2', vehicleId: 'v2' }],
    }, { accept: false, limit: 0 });
    const index = new SpatialStateIndex();
    const shard = new PartitionShard(0, 1, { system, directory, index, hub: new DeliveryHub(), metrics: noMetrics, logger: silentLogger, decodeRecord: decodeRecordValue });
    await shard.apply([record('d1', t0, 52), record('d2', t0, 51)]);
    await shard.settled();
    // A batch is queued at v1's actor and v1 is retired before the actor got to it.
    const batch = Array.from({ length: 50 }, (_, i) => record('d1', t0 + 1000 + i, 52 + i / 1000)).concat(record('d2', t0 + 1000, 51.001));
    await shard.apply(batch);
    shard.retire('v1');
    const settled = await Promise.race([shard.settled().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
    assert.ok(settled, 'settled() resolves');
    assert.equal(shard.appliedOffset, batch[batch.length - 1].offset + 1, 'appliedOffset moves past the batch');
    assert.equal(index.get('v1'), undefined, 'the retired vehicle is off the map');
    assert.equal(index.get('v2')?.lat, 51.001);
    shard.close();
  });
});
