import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { loadConfig } from '../../engine/config.js';
import { startNode, type FleetlineNode } from '../../engine/fleetline-node.js';
import { PgSnapshotStore } from '../../adapters/postgres/pg-snapshot-store.js';
import { partitionForKey } from '../../adapters/embedded/murmur2.js';
import { adminHeaders, TEST_SECRET, testToken } from '../support/engine.js';
import { createRealDeployment, seedReference, type RealDeployment } from '../support/real-services.js';

describe('#8 restore keeps the id spaces apart (real Kafka, Redis, PostgreSQL)', () => {
  let dep: RealDeployment;
  let node: FleetlineNode | undefined;
  const logs: string[] = [];
  before(async () => {
    dep = await createRealDeployment(4);
    await seedReference(dep.db, [{ id: 'A' }, { id: 'B' }], [{ id: 'va1', companyId: 'A', deviceId: 'da1' }, { id: 'vb1', companyId: 'B', deviceId: 'db1' }]);
  });
  after(async () => {
    await node?.close();
    await dep?.cleanup();
  });

  it("#8 a stored snapshot of an unbound device that used vehicle vb1's id is not restored as vb1", async () => {
    // What an attacker's POST {deviceId: "vb1"} left behind before unbound devices had their own ids.
    const partition = partitionForKey('vb1', 4);
    const durable = new PgSnapshotStore(dep.db.pool);
    const epoch = await durable.acquire(partition);
    await durable.save(partition, epoch, [{
      vehicleId: 'vb1', deviceId: 'vb1', partition, accepted: 1, recent: [],
      view: { id: 'vb1', company: null, lat: 1.23, lon: 4.56, ts: Date.now() - 60_000, speed: 0, moving: false },
    }]);

    const config = loadConfig({ ...dep.env, PORT: '0', HOST: '127.0.0.1', JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'info', ACCEPT_UNBOUND_DEVICES: 'true' });
    node = await startNode(config, pino({ level: 'info' }, { write: (line: string) => { logs.push(line); } }));

    const asB = await fetch(`${node.url}/v1/vehicles/vb1`, { headers: { authorization: `Bearer ${await testToken({ companies: ['B'] })}` } });
    assert.equal(asB.status, 404, "company B sees no vb1 carrying the attacker's position");
    await asB.arrayBuffer();
    const all = (await (await fetch(`${node.url}/v1/vehicles`, { headers: await adminHeaders() })).json()) as { vehicles: { id: string; lat: number }[] };
    assert.deepEqual(all.vehicles, [], 'nothing was restored from the stale snapshot');
    assert.ok(logs.some((l) => l.includes('snapshots not restored') && l.includes('"skipped":1')), 'the skipped snapshot is logged');
  });
});
