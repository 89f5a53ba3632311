import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TieredSnapshotStore, type HotOperation } from '../../actors/tiered-snapshot-store.js';
import { FencedWriteError } from '../../actors/ports/snapshot-store.js';
import { RedisSnapshotStore } from '../../adapters/redis/redis-snapshot-store.js';
import { connectRedis, createRedis } from '../../adapters/redis/redis-connection.js';
import { TcpProxy } from '../redis/tcp-proxy.js';
import { PgSnapshotStore } from '../../adapters/postgres/pg-snapshot-store.js';
import { migrate } from '../../adapters/postgres/migrate.js';
import { createTestDatabase, type TestDatabase } from '../postgres/pg-test-db.js';
import { createTestRedis, TEST_REDIS_URL, type TestRedis } from '../redis/redis-test-prefix.js';
import { byVehicle, makeSnapshots } from './snapshot-fixtures.js';

interface Failure {
  readonly operation: HotOperation;
  readonly partition: number;
  readonly message: string;
}

describe('TieredSnapshotStore (real Redis + PostgreSQL)', () => {
  let db: TestDatabase;
  let t: TestRedis;
  let hot: RedisSnapshotStore;
  let durable: PgSnapshotStore;

  before(async () => {
    [db, t] = await Promise.all([createTestDatabase(), createTestRedis()]);
    await migrate(db.pool);
    hot = new RedisSnapshotStore(t.redis, { prefix: t.prefix });
    durable = new PgSnapshotStore(db.pool);
  });
  after(async () => {
    await Promise.allSettled([t.cleanup(), db.drop()]);
  });

  function tiered(failures: Failure[] = [], loadMode?: 'hot-first' | 'freshest'): TieredSnapshotStore {
    return new TieredSnapshotStore(hot, durable, {
      onHotFailure: (e, operation, partition) => failures.push({ operation, partition, message: e.message }),
      ...(loadMode ? { loadMode } : {}),
    });
  }

  it('writes both tiers; the durable epoch is the one handed out', async () => {
    const store = tiered();
    assert.equal(store.kind, 'tiered(redis+postgres)');
    const epoch = await store.acquire(1);
    assert.equal(epoch, await durable.currentEpoch(1));
    const snaps = makeSnapshots(100, 1);
    await store.save(1, epoch, snaps);
    assert.equal((await durable.load(1)).length, 100);
    assert.equal(await hot.count(1), 100);
    const loaded = byVehicle(await store.load(1));
    for (const s of snaps) assert.deepEqual(loaded.get(s.vehicleId), s);
  });

  it('Redis key prefix emptied: load falls back to PostgreSQL', async () => {
    const store = tiered();
    const epoch = await store.acquire(2);
    const snaps = makeSnapshots(300, 2);
    await store.save(2, epoch, snaps);
    assert.ok((await t.empty()) > 0);
    assert.deepEqual(await hot.load(2), []);
    const loaded = byVehicle(await store.load(2));
    assert.equal(loaded.size, 300);
    for (const s of snaps) assert.deepEqual(loaded.get(s.vehicleId), s);

    // Page by page, from the durable tier's keyset pages.
    const paging = new TieredSnapshotStore(hot, new PgSnapshotStore(db.pool, { pageSize: 100 }));
    const pages: number[] = [];
    const paged = new Set<string>();
    for await (const page of paging.loadPages(2)) {
      pages.push(page.length);
      for (const s of page) paged.add(s.vehicleId);
    }
    assert.deepEqual(pages, [100, 100, 100]);
    assert.equal(paged.size, 300);

    // The hot epoch restarted at 1 with the flush, the durable one did not: both still fence.
    const next = await store.acquire(2);
    assert.equal(next, epoch + 1);
    await store.save(2, next, snaps.slice(0, 10));
    assert.equal(await hot.count(2), 10);
  });

  it('fences node A in both tiers after node B acquired', async () => {
    const failures: Failure[] = [];
    const nodeA = tiered(failures);
    const nodeB = tiered(failures);
    const epochA = await nodeA.acquire(3);
    await nodeA.save(3, epochA, makeSnapshots(5, 3, { tag: 'A' }));
    const epochB = await nodeB.acquire(3);
    assert.equal(epochB, epochA + 1);
    await nodeB.save(3, epochB, makeSnapshots(5, 3, { tag: 'B', accepted: 7 }));
    await assert.rejects(nodeA.save(3, epochA, makeSnapshots(5, 3, { tag: 'A-late', accepted: 1 })), FencedWriteError);
    for (const state of [await hot.load(3), await durable.load(3), await nodeB.load(3)]) {
      assert.equal(state.length, 5);
      for (const s of state) assert.equal(s.accepted, 7);
    }
    // The hot tier fences on its own too: a stale hot epoch cannot write there.
    await assert.rejects(hot.save(3, 1, makeSnapshots(1, 3)), FencedWriteError);
    assert.deepEqual(failures, []);
  });

  it('Redis down: acquire and save succeed on PostgreSQL, failures are reported, Redis catches up when back', async () => {
    const target = new URL(TEST_REDIS_URL);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 6379));
    await proxy.start();
    const redis = await connectRedis({ url: `redis://127.0.0.1:${proxy.port}`, maxReconnectDelayMs: 50 });
    const proxiedHot = new RedisSnapshotStore(redis, { prefix: t.prefix });
    const failures: Failure[] = [];
    const store = new TieredSnapshotStore(proxiedHot, durable, {
      onHotFailure: (e, operation, partition) => failures.push({ operation, partition, message: e.message }),
    });
    try {
      await proxy.stop(); // Redis "goes down"
      const epoch = await store.acquire(4);
      assert.equal(epoch, await durable.currentEpoch(4));
      assert.deepEqual(failures.map((f) => f.operation), ['acquire']);
      const first = makeSnapshots(50, 4, { accepted: 1 });
      const started = Date.now();
      await store.save(4, epoch, first);
      assert.ok(Date.now() - started < 2000, 'a down hot tier fails fast');
      assert.deepEqual(failures.map((f) => f.operation), ['acquire', 'save']);
      assert.equal(store.hotBacklog(4), 50);
      assert.equal((await durable.load(4)).length, 50);
      assert.equal((await store.load(4)).length, 50); // no completeness mark: the durable tier
      let paged = 0;
      for await (const page of store.loadPages(4)) paged += page.length;
      assert.equal(paged, 50, 'the pages come from the durable tier too');
      assert.deepEqual(failures.map((f) => f.operation), ['acquire', 'save']);

      await proxy.start(); // back on the same port
      await once(redis, 'ready');
      const second = makeSnapshots(10, 4, { accepted: 2 }); // vehicles 0..9 changed again
      await store.save(4, epoch, second);
      assert.equal(failures.length, 2);
      assert.equal(store.hotBacklog(4), 0);
      const inHot = byVehicle(await hot.load(4));
      assert.equal(inHot.size, 50, 'the snapshots the hot tier missed were written with the next save');
      assert.equal(inHot.get('veh-5')!.accepted, 2);
      assert.equal(inHot.get('veh-20')!.accepted, 1);
    } finally {
      redis.disconnect();
      await proxy.stop();
    }
  });

  it('a failing onHotFailure callback does not fail the save', async () => {
    const redis = createRedis({ url: 'redis://127.0.0.1:1' }); // nothing listens there
    const store = new TieredSnapshotStore(new RedisSnapshotStore(redis, { prefix: t.prefix }), durable, {
      onHotFailure: () => {
        throw new Error('callback bug');
      },
    });
    const epoch = await store.acquire(5);
    await store.save(5, epoch, makeSnapshots(3, 5));
    assert.equal((await durable.load(5)).length, 3);
    redis.disconnect();
  });

  it('a hot epoch taken from under the owner is re-taken after its next durable write succeeds', async () => {
    const failures: Failure[] = [];
    const store = tiered(failures);
    const epoch = await store.acquire(7);
    await store.save(7, epoch, makeSnapshots(5, 7, { accepted: 1 }));
    await hot.acquire(7); // e.g. a stale owner's late lazy hot acquire
    await store.save(7, epoch, makeSnapshots(5, 7, { accepted: 2 }));
    assert.equal(failures.length, 1);
    assert.equal(failures[0].operation, 'save');
    assert.match(failures[0].message, /fenced/);
    assert.equal(store.hotBacklog(7), 5);
    await store.save(7, epoch, makeSnapshots(1, 7, { accepted: 3 }));
    assert.equal(failures.length, 1);
    assert.equal(store.hotBacklog(7), 0);
    const inHot = byVehicle(await hot.load(7));
    assert.equal(inHot.get('veh-0')!.accepted, 3);
    assert.equal(inHot.get('veh-4')!.accepted, 2);
  });

  it("loadMode 'freshest' keeps the newer snapshot of each vehicle when the hot tier is stale", async () => {
    const hotFirst = tiered();
    const freshest = tiered([], 'freshest');
    const epoch = await hotFirst.acquire(6);
    await hotFirst.save(6, epoch, makeSnapshots(20, 6, { ts: 1_700_000_000_000, accepted: 1 }));
    // The durable tier moves on without the hot one (as when a hot write was lost).
    await durable.save(6, epoch, makeSnapshots(5, 6, { ts: 1_700_000_100_000, accepted: 2 }));
    // Not marked complete by a clean hand-off: hot-first reads the durable tier as well.
    const unmarked = byVehicle(await hotFirst.load(6));
    assert.equal(unmarked.get('veh-0')!.accepted, 2);
    const fresh = byVehicle(await freshest.load(6));
    assert.equal(fresh.size, 20);
    assert.equal(fresh.get('veh-0')!.accepted, 2);
    assert.equal(fresh.get('veh-4')!.accepted, 2);
    assert.equal(fresh.get('veh-5')!.accepted, 1);
  });

  it('#7.5 a Redis restored from a dump (its old epoch and mark with it) is not trusted: the restore reads PostgreSQL', async () => {
    const P = 9;
    const keys = [hot.epochKey(P), `${t.prefix}complete:${P}`, hot.snapshotKey(P)];
    const a = tiered();
    const epochA = await a.acquire(P);
    for await (const page of a.loadPages(P)) void page;
    await a.save(P, epochA, makeSnapshots(10, P, { accepted: 1 }));
    await a.release(P, epochA);
    const dump = await Promise.all(keys.map((k) => t.redis.dumpBuffer(k)));

    const b = tiered();
    const epochB = await b.acquire(P);
    for await (const page of b.loadPages(P)) void page;
    await b.save(P, epochB, makeSnapshots(10, P, { accepted: 2 }));
    await b.release(P, epochB);
    // Redis comes back from the dump taken after a's hand-off: a's epoch, a's mark, a's snapshots.
    for (const [i, k] of keys.entries()) await t.redis.restore(k, 0, dump[i] as Buffer, 'REPLACE');

    const c = tiered();
    await c.acquire(P);
    const accepted = new Map<string, number>();
    for await (const page of c.loadPages(P)) for (const snap of page) if (!accepted.has(snap.vehicleId)) accepted.set(snap.vehicleId, snap.accepted);
    assert.equal(accepted.size, 10);
    assert.ok([...accepted.values()].every((n) => n === 2), 'every vehicle at its newest version (PostgreSQL), none from the dump');
  });

  it('#7.5 the hot tier alone is trusted only after a clean hand-off; otherwise the durable tier is read and the hot one repaired', async () => {
    const drain = async (store: TieredSnapshotStore, p: number) => {
      const out = new Map<string, number>();
      for await (const page of store.loadPages(p)) for (const s of page) if (!out.has(s.vehicleId)) out.set(s.vehicleId, s.accepted);
      return out;
    };
    const markKey = `${t.prefix}complete:8`;
    const a = tiered();
    const epochA = await a.acquire(8);
    assert.equal((await drain(a, 8)).size, 0);
    assert.ok(a.isHotComplete(8), 'an empty partition is complete in both tiers');
    await a.save(8, epochA, makeSnapshots(30, 8, { accepted: 1 }));
    await a.release(8, epochA);
    assert.equal(await t.redis.exists(markKey), 1, 'a clean hand-off marks the hot tier complete');

    const b = tiered();
    const epochB = await b.acquire(8);
    assert.equal(await t.redis.exists(markKey), 0, 'the next owner takes the mark away');
    assert.equal((await drain(b, 8)).size, 30);
    await b.save(8, epochB, makeSnapshots(3, 8, { accepted: 2 }));
    // b dies without a hand-off; meanwhile Redis loses part of the partition.
    await t.redis.hdel(hot.snapshotKey(8), 'veh-10', 'veh-11', 'veh-12', 'veh-13');

    const c = tiered();
    const epochC = await c.acquire(8);
    const restored = await drain(c, 8);
    assert.equal(restored.size, 30, 'no mark: every vehicle of the durable tier');
    assert.equal(restored.get('veh-0'), 2, 'at its newest version');
    assert.equal(restored.get('veh-10'), 1);
    assert.equal(await hot.count(8), 30, 'the restore repaired the hot tier');
    assert.ok(c.isHotComplete(8));

    // A stale owner's late hand-off cannot mark the hot tier: d took the partition first.
    const d = tiered();
    await d.acquire(8);
    await c.release(8, epochC);
    assert.equal(await t.redis.exists(markKey), 0);

    // A mark that comes back with an old copy of Redis (a dump) was set under an older hot epoch.
    await t.redis.set(markKey, '1');
    await t.redis.hdel(hot.snapshotKey(8), 'veh-20', 'veh-21');
    const e = tiered();
    await e.acquire(8);
    assert.equal((await drain(e, 8)).size, 30, 'an old mark is not trusted: the durable tier is read');
  });
  it('#8 a live hand-off with leases: B waits for A\'s release, A\'s last save is not fenced, B restores from Redis and looks vehicles up there meanwhile', async () => {
    const node = (holder: string) => new TieredSnapshotStore(new RedisSnapshotStore(t.redis, { prefix: t.prefix, leaseHolder: holder, leasePollMs: 5 }), durable);
    const a = node('node-a');
    const epochA = await a.acquire(9);
    for await (const page of a.loadPages(9)) assert.equal(page.length, 0);
    await a.save(9, epochA, makeSnapshots(40, 9, { accepted: 1 }));
    await a.holdLease(9, epochA, 60_000);

    // Kafka tells both at once; B waits while A writes its last checkpoint and hands off.
    const b = node('node-b');
    const waited = b.awaitRelease(9, 10_000);
    await a.save(9, epochA, makeSnapshots(5, 9, { accepted: 2 }));
    await a.release(9, epochA);
    await a.dropLease(9);
    assert.equal(await waited, 'released');
    const epochB = await b.acquire(9);
    await b.holdLease(9, epochB, 60_000);
    assert.equal(await t.redis.exists(`${t.prefix}complete:9`), 0, 'B took the mark');

    // Only the hot tier has this one: B reads the hot tier, for pages and lookups alike.
    const marker = { ...makeSnapshots(1, 9, { accepted: 77 })[0], vehicleId: 'veh-hot-only' };
    await hot.save(9, Number(await t.redis.get(hot.epochKey(9))), [marker]);
    const seen = new Map<string, number>();
    let lookedUp: number | undefined;
    for await (const page of b.loadPages(9)) {
      for (const s of page) if (!seen.has(s.vehicleId)) seen.set(s.vehicleId, s.accepted);
      lookedUp ??= (await b.loadMany(9, ['veh-hot-only']))[0]?.accepted;
    }
    assert.equal(seen.size, 41);
    assert.equal(seen.get('veh-0'), 2, 'A\'s last save is in it');
    assert.equal(lookedUp, 77);
    assert.ok(b.isHotComplete(9));
    assert.deepEqual(await b.loadMany(9, ['veh-hot-only']), [], 'after the restore, lookups read PostgreSQL again');
  });
});
