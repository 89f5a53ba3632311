import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { createTestDatabase, type TestDatabase } from '../postgres/pg-test-db.js';
import { createTestRedis, TEST_REDIS_URL, type TestRedis } from '../redis/redis-test-prefix.js';
import { seedReference } from '../support/real-services.js';
import { adminHeaders, postJson, startTestNode } from '../support/engine.js';

const VEHICLES = 100;
const lat = (i: number, round: number) => 50 + i / 1000 + round;

async function until(cond: () => Promise<boolean> | boolean, what: string, tries = 300): Promise<void> {
  for (let i = 0; i < tries && !(await cond()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(await cond(), what);
}

describe('#7.5 a Redis that lost data does not make parked vehicles vanish (real Redis + PostgreSQL)', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let node: FleetlineNode | undefined;
  let env: Record<string, string>;
  before(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    await seedReference(db, [{ id: 'A' }], Array.from({ length: VEHICLES }, (_, i) => ({ id: `veh-${i}`, companyId: 'A', deviceId: `dev-${i}` })));
    // The embedded log: a restart keeps nothing but the snapshot stores.
    env = { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: redis.prefix, TELEMETRY_PARTITIONS: '24', CHECKPOINT_INTERVAL_MS: '100' };
  });
  after(async () => {
    await node?.close();
    await Promise.allSettled([redis.cleanup(), db.drop()]);
  });

  async function post(devices: number[], round: number, ts: number): Promise<void> {
    const headers = await adminHeaders();
    const records = devices.map((i) => ({ deviceId: `dev-${i}`, ts, lat: lat(i, round), lon: 13.4 }));
    const res = await postJson(`${node!.url}/v1/telemetry`, records, headers);
    assert.equal(res.status, 202);
  }

  const durableAt = async (i: number, round: number) => {
    const { rows } = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM vehicle_snapshots');
    return Number(rows[0].n) === VEHICLES && node!.index.get(`veh-${i}`)?.lat === lat(i, round);
  };

  it('#7.5 every vehicle is back at its newest position after Redis lost its data and the engine restarted', async () => {
    node = await startTestNode(env);
    const all = Array.from({ length: VEHICLES }, (_, i) => i);
    const t0 = Date.now() - 60_000;
    await post(all, 0, t0);
    await until(() => durableAt(VEHICLES - 1, 0), 'all vehicles checkpointed to PostgreSQL');
    assert.ok((await redis.keys()).some((k) => k.includes('snap:')), 'Redis holds snapshots');

    assert.ok((await redis.empty()) > 0, 'Redis lost every key of this deployment');
    // The movers' first hot write after the loss is fenced (the hot epoch vanished with the data);
    // the next one re-takes the epoch and lands: Redis then holds the movers only.
    const movers = [3, 57];
    let round = 0;
    await until(async () => {
      round++;
      await post(movers, round, t0 + round * 1000);
      await new Promise((r) => setTimeout(r, 300));
      return (await redis.keys()).some((k) => k.includes('snap:'));
    }, 'the movers reached Redis again', 30);
    await until(async () => (await durableAt(57, round)) && node!.index.get('veh-3')?.lat === lat(3, round), 'the movers are applied');
    await node.close();

    node = await startTestNode(env);
    for (const i of all) {
      const view = node.index.get(`veh-${i}`);
      assert.ok(view, `veh-${i} restored`);
      assert.equal(view.lat, lat(i, movers.includes(i) ? round : 0), `veh-${i} at its newest position`);
    }
    assert.equal(node.supervisor.actors, VEHICLES);

    // The restore repaired Redis and the clean stop marked it complete: the next restart reads
    // Redis alone and still finds everyone.
    await node.close();
    let hot = 0;
    for (let p = 0; p < 24; p++) hot += await redis.redis.hlen(`${redis.prefix}snap:${p}`);
    assert.equal(hot, VEHICLES, 'Redis holds every vehicle again');
    node = await startTestNode(env);
    assert.equal(node.supervisor.actors, VEHICLES);
    assert.equal(node.index.get('veh-3')?.lat, lat(3, round));
  });
});
