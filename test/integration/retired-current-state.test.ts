import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { Topics } from '../../actors/ports/partitioned-log.js';
import { RedisCurrentStateStore } from '../../adapters/redis/redis-current-state.js';
import { createTestRedis, TEST_REDIS_URL, type TestRedis } from '../redis/redis-test-prefix.js';
import { adminHeaders, postJson, startTestNode } from '../support/engine.js';

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(await cond(), what);
}

describe('#7.6b retired vehicles leave the Redis current state (real Redis)', () => {
  let redis: TestRedis;
  let node: FleetlineNode;
  let state: RedisCurrentStateStore;
  before(async () => {
    redis = await createTestRedis();
    state = new RedisCurrentStateStore(redis.redis, { prefix: redis.prefix });
    node = await startTestNode({ REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: redis.prefix });
  });
  after(async () => {
    await node?.close();
    await redis.cleanup();
  });

  it('#7.6b a deactivated company: its vehicles are removed from the current-state hashes and the GEO index', async () => {
    const ts = Date.now() - 5_000;
    await postJson(`${node.url}/v1/telemetry`, [
      { deviceId: 'da1', ts, lat: 52.5, lon: 13.4 },
      { deviceId: 'da2', ts, lat: 52.5, lon: 13.41 },
      { deviceId: 'db1', ts, lat: 52.5, lon: 13.42 },
    ], await adminHeaders());
    await until(async () => (await state.get('va1')) !== undefined && (await state.get('va2')) !== undefined && (await state.get('vb1')) !== undefined, 'all three are published');

    await node.infrastructure.bus.publish(Topics.fleetReference, [{ key: 'company:A', value: json({ name: 'Company A', active: false }) }]);
    await until(async () => (await state.get('va1')) === undefined && (await state.get('va2')) === undefined, 'the retired vehicles are removed');
    assert.equal(await redis.redis.zscore(`${redis.prefix}geo`, 'va1'), null);
    assert.equal(await redis.redis.zscore(`${redis.prefix}geo`, 'va2'), null);
    assert.equal((await state.get('vb1'))?.lat, 52.5, "another company's vehicle stays");
  });
});
