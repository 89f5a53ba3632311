import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SessionMeta, SessionSave, SessionStore } from '../../actors/ports/session-store.js';
import { MemorySessionStore } from '../../adapters/embedded/memory-session-store.js';
import { RedisSessionStore } from '../../adapters/redis/redis-session-store.js';
import { createTestRedis, type TestRedis } from './redis-test-prefix.js';

const meta = (id: string, seq: number): SessionMeta => ({
  id, grant: ['A'], epoch: 1, seq, sub: { fields: 'min', bbox: [13, 52, 14, 53] }, subscribedAt: 1, floor: 1,
  marks: [[1, 1000], [seq, 2000]], gone: [['v9', seq]], eventsDropped: [0, 0], detachedAt: null, savedAt: 3000,
});
const event = (seq: number, n: number) => ({ seq, at: 1000 + n, e: { id: `v1:alarm:${n}`, vehicleId: 'v1', company: 'A', type: 'alarm' as const, ts: n, lat: 52.5, lon: 13.4 } });

for (const kind of ['redis', 'memory'] as const) {
  describe(`#9 session store (${kind})`, () => {
    let redis: TestRedis | null = null;
    let store: SessionStore;
    const MAX_EVENTS = 5;
    before(async () => {
      if (kind === 'redis') {
        redis = await createTestRedis();
        store = new RedisSessionStore(redis.redis, { prefix: redis.prefix, ttlMs: 60_000, maxEvents: MAX_EVENTS });
      } else {
        store = new MemorySessionStore({ ttlMs: 60_000, maxEvents: MAX_EVENTS });
      }
    });
    after(async () => {
      await store.close();
      await redis?.cleanup();
    });

    it(`#9 a save writes the whole session, a later one only its difference; the event buffer keeps the last WS_SESSION_EVENTS (${kind})`, async () => {
      const first: SessionSave = { owner: 'o1', meta: meta('s1', 2), seen: { replace: ['v1', 'v2', 'v3'] }, events: { replace: [event(2, 1)] } };
      assert.deepEqual(await store.save([first]), new Set());
      const got = await store.load('s1');
      assert.deepEqual(got?.meta, meta('s1', 2));
      assert.deepEqual([...(got?.seen ?? [])].sort(), ['v1', 'v2', 'v3']);
      assert.deepEqual(got?.events, [event(2, 1)]);

      const events = [3, 4, 5, 6, 7, 8].map((n) => event(n, n));
      await store.save([{ owner: 'o1', meta: meta('s1', 8), seen: { add: ['v4'], remove: ['v1'] }, events: { append: events } }]);
      const next = await store.load('s1');
      assert.equal(next?.meta.seq, 8);
      assert.deepEqual([...(next?.seen ?? [])].sort(), ['v2', 'v3', 'v4']);
      assert.deepEqual(next?.events, events.slice(-MAX_EVENTS));
      if (redis) {
        for (const key of (store as RedisSessionStore).keys('s1')) {
          const ttl = await redis.redis.pttl(key);
          assert.ok(ttl > 0 && ttl <= 60_000, `${key} has the session TTL (${ttl})`);
        }
      }
    });

    it(`#9 a session whose client holds 150,000 vehicles is saved and loaded whole (more ids than a call takes arguments) (${kind})`, async () => {
      const ids = Array.from({ length: 150_000 }, (_, i) => `veh-${i}`);
      assert.deepEqual(await store.save([{ owner: 'o1', meta: meta('big', 2), seen: { replace: ids }, events: { replace: [] } }]), new Set());
      const more = Array.from({ length: 120_000 }, (_, i) => `more-${i}`);
      await store.save([{ owner: 'o1', meta: meta('big', 3), seen: { add: more, remove: ids.slice(0, 100_000) }, events: { append: [] } }]);
      const got = await store.load('big');
      assert.equal(got?.seen.size, 50_000 + 120_000);
      assert.ok(got?.seen.has('veh-149999') && got.seen.has('more-0') && !got.seen.has('veh-0'));
    });

    it(`#9 a claim makes the new connection the only writer: the old one's saves are refused and change nothing (${kind})`, async () => {
      await store.save([{ owner: 'o1', meta: meta('s2', 4), seen: { replace: ['v1'] }, events: { replace: [] } }]);
      const claimed = await store.claim('s2', 'o2');
      assert.equal(claimed?.meta.seq, 4);
      const refused = await store.save([
        { owner: 'o1', meta: meta('s2', 9), seen: { add: ['v7'], remove: [] }, events: { append: [event(9, 9)] } },
        { owner: 'o1', meta: meta('s3', 1), seen: { replace: [] }, events: { replace: [] } },
      ]);
      assert.deepEqual(refused, new Set(['s2']), 'only the claimed session is refused; the other is written');
      const after = await store.load('s2');
      assert.equal(after?.meta.seq, 4);
      assert.deepEqual([...(after?.seen ?? [])], ['v1']);
      assert.deepEqual(await store.save([{ owner: 'o2', meta: meta('s2', 5), seen: { add: [], remove: [] }, events: { append: [] } }]), new Set());
      assert.equal((await store.load('s2'))?.meta.seq, 5);
    });

    it(`#9 an unknown session loads and claims as null (${kind})`, async () => {
      assert.equal(await store.load('nope'), null);
      assert.equal(await store.claim('nope', 'o1'), null);
    });
  });
}
