import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { createTestDatabase, type TestDatabase } from '../postgres/pg-test-db.js';
import { seedReference } from '../support/real-services.js';
import { adminHeaders, postJson, startTestNode } from '../support/engine.js';

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(cond(), what);
}

describe('#7.6c with PostgreSQL as reference source and the embedded log, reference changes arrive', () => {
  let db: TestDatabase;
  let node: FleetlineNode;
  before(async () => {
    db = await createTestDatabase();
    await seedReference(db, [{ id: 'A' }, { id: 'B' }], [{ id: 'veh-1', companyId: 'A', deviceId: 'dev-1' }, { id: 'veh-2', companyId: 'B', deviceId: 'dev-2' }]);
    node = await startTestNode({ DATABASE_URL: db.url });
  });
  after(async () => {
    await node?.close();
    await db.drop();
  });

  it('#7.6c a rename, a new device binding and a deactivated company in PostgreSQL reach the actors', async () => {
    const headers = await adminHeaders();
    const ts = Date.now() - 10_000;
    await postJson(`${node.url}/v1/telemetry`, [{ deviceId: 'dev-1', ts, lat: 52.5, lon: 13.4 }, { deviceId: 'dev-2', ts, lat: 52.5, lon: 13.5 }], headers);
    await until(() => node.index.get('veh-1') !== undefined && node.index.get('veh-2') !== undefined, 'both vehicles applied');

    await db.pool.query(`UPDATE vehicles SET name = 'Renamed in the back office' WHERE id = 'veh-1'`);
    await until(() => node.index.get('veh-1')?.name === 'Renamed in the back office', 'the rename reaches the vehicle');

    await db.pool.query(`INSERT INTO device_bindings (device_id, vehicle_id) VALUES ('dev-1b', 'veh-1')`);
    // The binding must be known before the point is routed; a second device of veh-1 moves it.
    for (let i = 0; i < 100; i++) {
      await postJson(`${node.url}/v1/telemetry`, { deviceId: 'dev-1b', ts: ts + 1000 + i, lat: 52.6, lon: 13.4 }, headers);
      if (node.index.get('veh-1')?.lat === 52.6) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(node.index.get('veh-1')?.lat, 52.6, 'the new binding routes dev-1b to veh-1');

    await db.pool.query(`UPDATE companies SET active = false WHERE id = 'B'`);
    await until(() => node.index.get('veh-2') === undefined, "the deactivated company's vehicle is retired");
    assert.ok(node.index.get('veh-1'), 'the other company stays');
  });
});
