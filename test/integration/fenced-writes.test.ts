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
    // Never our stale state (1 point accepted): the other owner's 99, or — once this node got the
    // partition back through the group with a newer epoch — built on top of it.
    assert.ok((stored?.accepted ?? 0) >= 99, "the new owner's snapshot is intact");
  });

  it('#7.4 after a fence the node gives the partition up (re-joins the group); its owner — here this node again, with a new epoch — takes it on', async () => {
    const device = 'fence-2';
    const vehicle = unboundVehicleId(device);
    const partition = partitionForKey(device, 4);
    const durable = new PgSnapshotStore(dep.db.pool);
    const headers = await adminHeaders();
    const t0 = Date.now() - 60_000;
    assert.equal((await postJson(`${node.url}/v1/telemetry`, { deviceId: device, ts: t0, lat: 52.5, lon: 13.4 }, headers)).status, 202);
    const stored = async () => (await durable.load(partition)).find((s) => s.vehicleId === vehicle);
    for (let i = 0; i < 200 && (await stored()) === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    // Another owner takes the partition in the durable tier and moves the vehicle.
    const epoch = await durable.acquire(partition);
    const theirs = { vehicleId: vehicle, deviceId: device, partition, accepted: 50, recent: [], view: { id: vehicle, company: null, lat: 1, lon: 1, ts: t0 + 1000, speed: 0, moving: false } };
    await durable.save(partition, epoch, [theirs]);
    const joinsBefore = logs.filter((l) => l.includes('re-joining')).length;
    // Our next write to the partition is fenced.
    assert.equal((await postJson(`${node.url}/v1/telemetry`, { deviceId: device, ts: t0 + 500, lat: 52.6, lon: 13.4 }, headers)).status, 202);
    for (let i = 0; i < 200 && logs.filter((l) => l.includes('re-joining')).length === joinsBefore; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(logs.filter((l) => l.includes('re-joining')).length > joinsBefore, 'the node re-joins its consumer group');
    // The group hands the partition to its owner (this node, the only member): acquired with a
    // newer epoch, restored from the other writer's snapshot, and consumed again.
    for (let i = 0; i < 300 && node.supervisor.phases().get(partition) !== 'active'; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(node.supervisor.phases().get(partition), 'active');
    assert.ok((await durable.currentEpoch(partition)) > epoch);
    assert.equal((await postJson(`${node.url}/v1/telemetry`, { deviceId: device, ts: t0 + 2000, lat: 52.7, lon: 13.4 }, headers)).status, 202);
    for (let i = 0; i < 300 && (await stored())?.view.lat !== 52.7; i++) await new Promise((r) => setTimeout(r, 50));
    const after = await stored();
    assert.equal(after?.view.lat, 52.7, 'later points of the partition are applied and checkpointed');
    assert.equal(after?.accepted, 51, "on top of the other owner's state");
  });
});
