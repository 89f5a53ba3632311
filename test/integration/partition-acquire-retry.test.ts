import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { migrate } from '../../adapters/postgres/migrate.js';
import { createTestDatabase, type TestDatabase } from '../postgres/pg-test-db.js';
import { seedReference } from '../support/real-services.js';
import { adminHeaders, postJson, startTestNode } from '../support/engine.js';

/**
 * PostgreSQL refuses every partition acquire while this trigger exists: a real server error on
 * the real statement (UPDATE/INSERT of partition_epochs), as when it is down during a rebalance.
 */
const BREAK_ACQUIRE = `
CREATE FUNCTION refuse_acquire() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'acquire refused (test: PostgreSQL unavailable)'; END $$;
CREATE TRIGGER refuse_acquire BEFORE INSERT OR UPDATE ON partition_epochs FOR EACH ROW EXECUTE FUNCTION refuse_acquire();`;

describe('#7.4 a partition whose acquire fails is acquired later (real PostgreSQL)', () => {
  let db: TestDatabase;
  let node: FleetlineNode | undefined;
  before(async () => {
    db = await createTestDatabase();
    await migrate(db.pool);
    await seedReference(db, [{ id: 'A' }], [{ id: 'veh-1', companyId: 'A', deviceId: 'dev-1' }]);
  });
  after(async () => {
    await node?.close();
    await db.drop();
  });

  it('#7.4 an acquire that fails is retried with backoff; the batches wait and are applied once it succeeds', async () => {
    await db.pool.query(BREAK_ACQUIRE);
    node = await startTestNode({ DATABASE_URL: db.url, TELEMETRY_PARTITIONS: '2' });
    const phases = [...node.supervisor.phases().values()];
    assert.deepEqual(phases, ['retrying-acquire', 'retrying-acquire'], 'no partition is held while PostgreSQL refuses');
    assert.equal(node.supervisor.health.checkpoints, 'degraded');
    assert.match(node.supervisor.health.lastFailure ?? '', /acquire partition \d: acquire refused/);

    const ts = Date.now() - 5_000;
    const res = await postJson(`${node.url}/v1/telemetry`, { deviceId: 'dev-1', ts, lat: 52.5, lon: 13.4 }, await adminHeaders());
    assert.equal(res.status, 202);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(node.index.get('veh-1'), undefined, 'not applied while its partition is not held');

    await db.pool.query('DROP TRIGGER refuse_acquire ON partition_epochs');
    for (let i = 0; i < 300 && node.index.get('veh-1') === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(node.index.get('veh-1')?.ts, ts, 'applied once the retried acquire succeeded');
    assert.deepEqual([...node.supervisor.phases().values()], ['active', 'active']);
    const healthy = () => node!.supervisor.health.checkpoints === 'ok';
    for (let i = 0; i < 100 && !healthy(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(healthy(), 'health is ok again');
    const stored = async () => Number((await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM vehicle_snapshots WHERE vehicle_id = 'veh-1'")).rows[0].n);
    for (let i = 0; i < 100 && (await stored()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await stored(), 1, 'and checkpointed');
  });
});
