import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RedisSnapshotStore } from '../../adapters/redis/redis-snapshot-store.js';
import { FencedWriteError } from '../../actors/ports/snapshot-store.js';
import { byVehicle, makeSnapshots } from '../snapshots/snapshot-fixtures.js';
import { createTestRedis, type TestRedis } from './redis-test-prefix.js';

describe('RedisSnapshotStore (real Redis)', () => {
  let t: TestRedis;
  let store: RedisSnapshotStore;

  before(async () => {
    t = await createTestRedis();
    store = new RedisSnapshotStore(t.redis, { prefix: t.prefix });
  });
  after(async () => {
    await store.close();
    await t.cleanup();
  });

  it('uses the documented key layout', async () => {
    const epoch = await store.acquire(7);
    await store.save(7, epoch, makeSnapshots(1, 7));
    assert.deepEqual((await t.keys()).sort(), [`${t.prefix}epoch:7`, `${t.prefix}snap:7`]);
    assert.equal(await t.redis.get(`${t.prefix}epoch:7`), String(epoch));
    assert.deepEqual(await t.redis.hkeys(`${t.prefix}snap:7`), ['veh-0']);
  });

  it('round-trips 100 snapshots exactly (optional fields stay absent)', async () => {
    const epoch = await store.acquire(1);
    assert.equal(epoch, 1);
    const snaps = makeSnapshots(100, 1);
    await store.save(1, epoch, snaps);
    const loaded = await store.load(1);
    assert.equal(loaded.length, 100);
    const map = byVehicle(loaded);
    for (const s of snaps) assert.deepEqual(map.get(s.vehicleId), s);
    assert.equal('name' in map.get('veh-0')!.view, false);
  });

  it('later saves overwrite per vehicle; partitions are separate', async () => {
    const epoch = await store.acquire(1);
    await store.save(1, epoch, makeSnapshots(10, 1, { tag: 'newer', accepted: 999 }));
    const loaded = byVehicle(await store.load(1));
    assert.equal(loaded.size, 100);
    assert.equal(loaded.get('veh-3')!.accepted, 999);
    assert.equal(loaded.get('veh-50')!.accepted, 150);
    assert.deepEqual(await store.load(2), []);
  });

  it('saves 20k snapshots in one call (chunked, every chunk fenced) and loads them back', async () => {
    const epoch = await store.acquire(3);
    const snaps = makeSnapshots(20_000, 3);
    await store.save(3, epoch, snaps);
    assert.equal(await store.count(3), 20_000);
    const loaded = byVehicle(await store.load(3));
    assert.equal(loaded.size, 20_000);
    for (const i of [0, 4999, 5000, 12_345, 19_999]) assert.deepEqual(loaded.get(`veh-${i}`), snaps[i]);

    // Page by page (HSCAN COUNT 1000 by default): the same vehicles, never all in one page.
    const pages: number[] = [];
    const paged = new Map<string, unknown>();
    for await (const page of store.loadPages(3)) {
      pages.push(page.length);
      for (const s of page) paged.set(s.vehicleId, s);
    }
    assert.ok(pages.length >= 10, `${pages.length} pages`);
    assert.ok(Math.max(...pages) < 20_000);
    assert.equal(paged.size, 20_000);
    assert.deepEqual(paged.get('veh-12345'), snaps[12_345]);
  });

  it('fences a node that lost the partition: A (epoch 1) is rejected after B (epoch 2) acquired', async () => {
    const nodeA = new RedisSnapshotStore(t.redis, { prefix: t.prefix });
    const nodeB = new RedisSnapshotStore(t.redis, { prefix: t.prefix });
    const epochA = await nodeA.acquire(9);
    assert.equal(epochA, 1);
    await nodeA.save(9, epochA, makeSnapshots(5, 9, { tag: 'A' }));
    const epochB = await nodeB.acquire(9);
    assert.equal(epochB, 2);
    await nodeB.save(9, epochB, makeSnapshots(5, 9, { tag: 'B', accepted: 7 }));

    await assert.rejects(nodeA.save(9, epochA, makeSnapshots(5, 9, { tag: 'A-late', accepted: 1 })), (e: unknown) => {
      assert.ok(e instanceof FencedWriteError);
      assert.equal(e.code, 'FENCED_WRITE');
      assert.equal(e.partition, 9);
      assert.equal(e.epoch, 1);
      assert.equal(e.currentEpoch, 2);
      return true;
    });
    // Also a large batch (several chunks) and an empty one are fenced.
    await assert.rejects(nodeA.save(9, epochA, makeSnapshots(12_000, 9, { tag: 'A-late' })), FencedWriteError);
    await assert.rejects(nodeA.save(9, epochA, []), FencedWriteError);

    const state = await nodeB.load(9);
    assert.equal(state.length, 5);
    for (const s of state) {
      assert.equal(s.accepted, 7);
      assert.equal(s.view.name, 'B');
    }
  });

  it('rejects a save for a partition never acquired', async () => {
    await assert.rejects(store.save(42, 1, makeSnapshots(1, 42)), (e: unknown) => e instanceof FencedWriteError && e.currentEpoch === 0);
    assert.equal(await store.count(42), 0);
  });

  it('ownership lease (#8): a new owner waits for the live owner\'s release, not for its own or an expired lease; a stale owner cannot renew', async () => {
    const a = new RedisSnapshotStore(t.redis, { prefix: t.prefix, leaseHolder: 'node-a' });
    const b = new RedisSnapshotStore(t.redis, { prefix: t.prefix, leaseHolder: 'node-b', leasePollMs: 5 });
    assert.equal(await b.awaitRelease(20, 1000), 'none');
    const epochA = await a.acquire(20);
    await a.holdLease(20, epochA, 60_000);
    assert.equal(await a.awaitRelease(20, 1000), 'own');
    // Still held when the wait ends: B goes on (the epoch fences A's late writes).
    assert.equal(await b.awaitRelease(20, 30), 'timed-out');
    // A hands off while B waits.
    const waiting = b.awaitRelease(20, 10_000);
    setTimeout(() => { void a.dropLease(20); }, 50);
    assert.equal(await waiting, 'released');
    assert.equal(await t.redis.exists(a.leaseKey(20)), 0);

    // B owns it now: A, stale, neither renews nor drops B's lease.
    const epochB = await b.acquire(20);
    await b.holdLease(20, epochB, 60_000);
    await a.holdLease(20, epochA, 60_000);
    await a.dropLease(20);
    assert.equal(await t.redis.get(b.leaseKey(20)), 'node-b');
    assert.equal(await a.awaitRelease(20, 0), 'timed-out');

    // A lease whose holder stopped renewing it (a node that died) expires: the wait ends then.
    await b.holdLease(20, epochB, 100);
    assert.equal(await a.awaitRelease(20, 10_000), 'released');
  });

  it('rejects bad partition numbers before touching Redis', async () => {
    await assert.rejects(store.acquire(-1), RangeError);
    await assert.rejects(store.load(1.5), RangeError);
  });
});
