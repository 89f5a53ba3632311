import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { migrate } from '../../adapters/postgres/migrate.js';
import { PgSnapshotStore, byteaArray } from '../../adapters/postgres/pg-snapshot-store.js';
import { FencedWriteError } from '../../actors/ports/snapshot-store.js';
import { byVehicle, makeSnapshots } from '../snapshots/snapshot-fixtures.js';
import { createTestDatabase, type TestDatabase } from './pg-test-db.js';

describe('PgSnapshotStore (real PostgreSQL)', () => {
  let db: TestDatabase;
  let store: PgSnapshotStore;

  before(async () => {
    db = await createTestDatabase();
    await migrate(db.pool);
    store = new PgSnapshotStore(db.pool);
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  it('acquire returns 1, 2, 3 ... per partition', async () => {
    assert.equal(await store.acquire(5), 1);
    assert.equal(await store.acquire(5), 2);
    assert.equal(await store.acquire(6), 1);
    assert.equal(await store.currentEpoch(5), 2);
    assert.equal(await store.currentEpoch(99), 0);
  });

  it('round-trips 100 snapshots exactly', async () => {
    const epoch = await store.acquire(1);
    const snaps = makeSnapshots(100, 1);
    await store.save(1, epoch, snaps);
    const loaded = byVehicle(await store.load(1));
    assert.equal(loaded.size, 100);
    for (const s of snaps) assert.deepEqual(loaded.get(s.vehicleId), s);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM vehicle_snapshots WHERE partition = 1');
    assert.equal(rows[0].n, 100);
  });

  it('upserts per vehicle; a batch holding a vehicle twice keeps the last one', async () => {
    const epoch = await store.acquire(1);
    const newer = makeSnapshots(3, 1, { accepted: 500 });
    const newest = makeSnapshots(1, 1, { accepted: 501 });
    await store.save(1, epoch, [...newer, ...newest]);
    const loaded = byVehicle(await store.load(1));
    assert.equal(loaded.size, 100);
    assert.equal(loaded.get('veh-0')!.accepted, 501);
    assert.equal(loaded.get('veh-2')!.accepted, 500);
    assert.equal(loaded.get('veh-3')!.accepted, 103);
    assert.deepEqual(await store.load(2), []);
  });

  it('saves 20k snapshots in one call (chunked upserts in one transaction) and loads them back in pages', async () => {
    const paged = new PgSnapshotStore(db.pool, { pageSize: 3000 });
    const epoch = await paged.acquire(3);
    const snaps = makeSnapshots(20_000, 3);
    await paged.save(3, epoch, snaps);
    const loaded = byVehicle(await paged.load(3));
    assert.equal(loaded.size, 20_000);
    for (const i of [0, 4999, 5000, 12_345, 19_999]) assert.deepEqual(loaded.get(`veh-${i}`), snaps[i]);
  });

  it('fences a node that lost the partition: A (epoch 1) is rejected after B (epoch 2) acquired', async () => {
    const nodeA = new PgSnapshotStore(db.pool);
    const nodeB = new PgSnapshotStore(db.newPool());
    const epochA = await nodeA.acquire(9);
    assert.equal(epochA, 1);
    await nodeA.save(9, epochA, makeSnapshots(5, 9, { tag: 'A' }));
    const epochB = await nodeB.acquire(9);
    assert.equal(epochB, 2);
    await nodeB.save(9, epochB, makeSnapshots(5, 9, { tag: 'B', accepted: 7 }));

    await assert.rejects(nodeA.save(9, epochA, makeSnapshots(5, 9, { tag: 'A-late', accepted: 1 })), (e: unknown) => {
      assert.ok(e instanceof FencedWriteError);
      assert.equal(e.partition, 9);
      assert.equal(e.epoch, 1);
      assert.equal(e.currentEpoch, 2);
      return true;
    });
    await assert.rejects(nodeA.save(9, epochA, makeSnapshots(12_000, 9, { tag: 'A-late' })), FencedWriteError);
    await assert.rejects(nodeA.save(9, epochA, []), FencedWriteError);

    const state = await nodeB.load(9);
    assert.equal(state.length, 5);
    for (const s of state) {
      assert.equal(s.accepted, 7);
      assert.equal(s.view.name, 'B');
    }
  });

  it('a save racing a takeover is all-or-nothing, and the old owner is fenced after it', async () => {
    const epoch = await store.acquire(11);
    const saving = store.save(11, epoch, makeSnapshots(10_000, 11)).then(
      () => 'saved',
      (e: unknown) => {
        assert.ok(e instanceof FencedWriteError);
        return 'fenced';
      },
    );
    const taking = store.acquire(11);
    const [outcome, newEpoch] = await Promise.all([saving, taking]);
    assert.equal(newEpoch, epoch + 1);
    // Either the save locked the epoch row first (the acquire waited for its commit) or the
    // acquire came first (the save was fenced and wrote nothing): never a partial batch.
    assert.equal((await store.load(11)).length, outcome === 'saved' ? 10_000 : 0);
    await assert.rejects(store.save(11, epoch, makeSnapshots(1, 11)), FencedWriteError);
  });

  it('rejects a save for a partition never acquired', async () => {
    await assert.rejects(store.save(42, 1, makeSnapshots(1, 42)), (e: unknown) => e instanceof FencedWriteError && e.currentEpoch === 0);
  });
});

describe('byteaArray (binary bytea[] parameter)', () => {
  it('round-trips through PostgreSQL, including empty arrays and empty elements', async () => {
    const db = await createTestDatabase();
    try {
      const items = [Buffer.from([0, 1, 2, 255]), Buffer.alloc(0), Buffer.from('\\x41 "quoted" {braces}', 'utf8')];
      const { rows } = await db.pool.query<{ b: Buffer[]; n: number }>('SELECT $1::bytea[] AS b, cardinality($1::bytea[]) AS n', [byteaArray(items)]);
      assert.equal(rows[0].n, 3);
      assert.deepEqual(rows[0].b, items);
      const empty = await db.pool.query<{ n: number }>('SELECT cardinality($1::bytea[]) AS n', [byteaArray([])]);
      assert.equal(empty.rows[0].n, 0);
    } finally {
      await db.drop();
    }
  });
});
