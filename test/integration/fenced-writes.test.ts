import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { loadConfig } from '../../engine/config.js';
import { startNode, type FleetlineNode } from '../../engine/fleetline-node.js';
import { PgSnapshotStore } from '../../adapters/postgres/pg-snapshot-store.js';
import { RedisSnapshotStore } from '../../adapters/redis/redis-snapshot-store.js';
import { partitionForKey } from '../../adapters/embedded/murmur2.js';
import { unboundVehicleId } from '../../actors/domain/reference-data.js';
import { adminHeaders, postJson, TEST_SECRET } from '../support/engine.js';
import { createRealDeployment, type RealDeployment } from '../support/real-services.js';

describe('single writer: a node that lost a partition cannot overwrite the new owner', () => {
  let dep: RealDeployment;
  let node: FleetlineNode;
  const logs: string[] = [];
  before(async () => {
    dep = await createRealDeployment(4);
    const config = loadConfig({ ...dep.env, PORT: '0', HOST: '127.0.0.1', JWT_SECRET: TEST_SECRET, CHECKPOINT_INTERVAL_MS: '200', LOG_LEVEL: 'info', ACCEPT_UNBOUND_DEVICES: 'true' });
    node = await startNode(config, pino({ level: 'info' }, { write: (line: string) => { logs.push(line); } }));
  });
  after(async () => {
    await node?.close();
    await dep?.cleanup();
  });

  it('a fenced snapshot write is rejected, counted and logged, and the new owner keeps its state', async () => {
    const device = 'fence-1';
    const vehicle = unboundVehicleId(device);
    const partition = partitionForKey(device, 4);
    // Another node takes the partition: its epoch is now higher than ours in both tiers.
    const durable = new PgSnapshotStore(dep.db.pool);
    const hot = new RedisSnapshotStore(dep.redis.redis, { prefix: dep.redis.prefix });
    const epoch = await durable.acquire(partition);
    await hot.acquire(partition);
    const theirs = { vehicleId: vehicle, deviceId: device, partition, accepted: 99, recent: [], view: { id: vehicle, company: null, lat: 1, lon: 1, ts: 1, speed: 0, moving: false } };
    await durable.save(partition, epoch, [theirs]);

    const res = await postJson(`${node.url}/v1/telemetry`, { deviceId: device, ts: Date.now() - 1000, lat: 52.5, lon: 13.4 }, await adminHeaders());
    assert.equal(res.status, 202);
    let metrics = '';
    for (let i = 0; i < 100; i++) {
      metrics = await (await fetch(`${node.url}/metrics`)).text();
      if (/fleetline_fenced_writes_total\{[^}]*\} [1-9]/.test(metrics)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(metrics, /fleetline_fenced_writes_total\{[^}]*\} [1-9]/);
    assert.ok(logs.some((l) => l.includes('snapshot write fenced')), 'the fenced write is logged');
    const stored = (await durable.load(partition)).find((s) => s.vehicleId === vehicle);
    assert.equal(stored?.accepted, 99, "the new owner's snapshot is intact");
    // The node let go of the partition: its actors there are stopped.
    assert.equal(node.index.get(vehicle), undefined);
  });
});
