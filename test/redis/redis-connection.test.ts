import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectRedis, createRedis, reconnectDelay } from '../../adapters/redis/redis-connection.js';
import { TEST_REDIS_URL } from './redis-test-prefix.js';

describe('Redis connection factory', () => {
  it('fails fast when Redis is down instead of queueing commands', async () => {
    const started = Date.now();
    // Port 1 on loopback: nothing listens there, the connect is refused at once.
    await assert.rejects(connectRedis({ url: 'redis://127.0.0.1:1' }), /redis not reachable/);
    const notConnected = createRedis({ url: 'redis://127.0.0.1:1' });
    await assert.rejects(notConnected.get('x'), /enableOfflineQueue|Stream isn't writeable/);
    notConnected.disconnect();
    assert.ok(Date.now() - started < 2000, 'a down Redis must not block the caller');
  });

  it('connects to the real server', async () => {
    const redis = await connectRedis({ url: TEST_REDIS_URL });
    assert.equal(await redis.ping(), 'PONG');
    await redis.quit();
  });

  it('backs off exponentially with a cap', () => {
    assert.ok(reconnectDelay(1) <= 100);
    assert.ok(reconnectDelay(20, 5000) <= 5000);
    assert.ok(reconnectDelay(20, 5000) >= 2500);
  });
});
