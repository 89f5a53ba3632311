import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { start as startActorSystem, stop as stopActor } from 'nact';
import { DeliveryHub } from '../../actors/delivery-hub.js';
import { FleetDirectory } from '../../actors/fleet-directory.js';
import { ShardSupervisor } from '../../actors/shard-supervisor.js';
import { SpatialStateIndex } from '../../actors/spatial-state-index.js';
import { noMetrics } from '../../actors/ports/engine-metrics.js';
import { silentLogger } from '../../actors/ports/logger.js';
import { Topics } from '../../actors/ports/partitioned-log.js';
import type { SnapshotStore } from '../../actors/ports/snapshot-store.js';
import type { VehicleSnapshot } from '../../actors/domain/vehicle-state.js';
import { EmbeddedLog } from '../../adapters/embedded/embedded-log.js';
import { MemoryHistoryStore } from '../../adapters/embedded/memory-history-store.js';
import { PgSnapshotStore } from '../../adapters/postgres/pg-snapshot-store.js';
import { decodeRecordValue, encodeMsgpack, encodeMsgpackBatch } from '../../adapters/codec/msgpack-codec.js';
import { createMigratedDatabase, type TestDatabase } from '../postgres/pg-test-db.js';

const VEHICLES = ['veh-1', 'veh-2', 'veh-3'];
const fleet = {
  companies: [{ id: 'A', name: 'A', active: true }],
  vehicles: VEHICLES.map((id) => ({ id, companyId: 'A', name: id })),
  devices: VEHICLES.map((id, i) => ({ deviceId: `dev-${i + 1}`, vehicleId: id })),
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The real PostgreSQL store, one snapshot per page; every page after the first waits for `open()`. */
function gated(inner: PgSnapshotStore) {
  let open!: () => void;
  const gate = new Promise<void>((r) => { open = r; });
  const state = { pagesRead: 0, lookups: 0, open: () => open() };
  const store: SnapshotStore = {
    kind: inner.kind,
    acquire: (p) => inner.acquire(p),
    load: (p) => inner.load(p),
    save: (p, e, s) => inner.save(p, e, s),
    loadOne: (p, id) => inner.loadOne(p, id),
    async loadMany(p, ids) {
      state.lookups++;
      return inner.loadMany(p, ids);
    },
    close: () => inner.close(),
    async *loadPages(p): AsyncIterable<readonly VehicleSnapshot[]> {
      for await (const page of inner.loadPages(p)) {
        if (state.pagesRead > 0) await gate;
        state.pagesRead++;
        yield page;
      }
    },
  };
  return { store, state };
}

function node(db: TestDatabase, snapshots: SnapshotStore, bus: EmbeddedLog) {
  const system = startActorSystem();
  const index = new SpatialStateIndex();
  const supervisor = new ShardSupervisor({
    system, directory: new FleetDirectory(fleet, { accept: false, limit: 0 }), index, hub: new DeliveryHub(), metrics: noMetrics, logger: silentLogger,
    decodeRecord: decodeRecordValue, bus, snapshots, history: new MemoryHistoryStore(), currentState: null, encodeRecords: encodeMsgpackBatch,
    options: { groupId: 'g', checkpointIntervalMs: 3_600_000, maxPendingPositions: 1_000_000 },
  });
  return { supervisor, index, stop: async () => { await supervisor.stop(); stopActor(system); } };
}

type Point = (device: number, i: number) => { key: string; value: Uint8Array };

/** The first owner: two points per vehicle (the first with the device's odometer, 1000 km; the state adds the distance from there), checkpointed, handed off. */
async function seed(db: TestDatabase, bus: EmbeddedLog, point: Point, ts: number): Promise<void> {
  const first = node(db, new PgSnapshotStore(db.pool), bus);
  await first.supervisor.start();
  await bus.publish(Topics.telemetryRaw, [1, 2, 3].flatMap((d) => [point(d, 0), point(d, 1)]));
  for (let i = 0; i < 300 && VEHICLES.some((v) => first.index.get(v)?.ts !== ts + 10_000); i++) await sleep(10);
  await first.stop();
}

describe('#8 a partition\'s points apply while its snapshots are still being restored (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createMigratedDatabase();
  });
  after(async () => {
    await db.drop();
  });

  it('#8 a vehicle whose snapshot page is not read yet gets its point applied on top of its stored state; the other vehicles come with their pages', async () => {
    const bus = new EmbeddedLog();
    await bus.ensureTopics([Topics.telemetryRaw, Topics.vehicleUpdates, Topics.vehicleEvents].map((name) => ({ name, partitions: 1 })));
    const ts = Date.now() - 60_000;
    const point = (device: number, i: number) => ({ key: `dev-${device}`, value: encodeMsgpack({ deviceId: `dev-${device}`, ts: ts + i * 10_000, lat: 52.5 + i / 1000, lon: 13.4, ...(i === 0 ? { odometer: 1000 } : {}) }) });

    await seed(db, bus, point, ts);
    const stored = await new PgSnapshotStore(db.pool).loadOne(0, 'veh-3');
    const storedOdometer = stored?.view.odometer ?? 0;
    assert.ok(storedOdometer > 1000, `veh-3's odometer is stored (${storedOdometer} km)`);

    // The next owner reads one snapshot per page (veh-1 first); the second page waits.
    const { store, state } = gated(new PgSnapshotStore(db.pool, { pageSize: 1 }));
    const next = node(db, store, bus);
    const starting = next.supervisor.start();
    try {
      await bus.publish(Topics.telemetryRaw, [point(3, 2)]);
      for (let i = 0; i < 300 && next.index.get('veh-3')?.ts !== ts + 20_000; i++) await sleep(10);
      const view = next.index.get('veh-3');
      assert.equal(view?.ts, ts + 20_000, 'veh-3\'s new point is applied although its page was not read');
      assert.equal(state.pagesRead, 1, 'the restore is still going (only veh-1\'s page was read)');
      assert.equal(next.index.get('veh-2'), undefined, 'veh-2 is not restored yet');
      assert.ok((view?.odometer ?? 0) > storedOdometer, `veh-3 continued from its stored state (a fresh one has no odometer): ${view?.odometer} km after ${storedOdometer} km`);
      assert.equal(state.lookups, 1, 'veh-3 was looked up (one query)');
    } finally {
      state.open();
      await starting;
    }
    assert.equal(state.pagesRead, 3, 'then every page was read');
    assert.equal(next.index.get('veh-2')?.ts, ts + 10_000, 'veh-2 restored from its page');
    assert.equal(next.index.get('veh-3')?.ts, ts + 20_000, 'veh-3 keeps its newer state (its page does not overwrite it)');
    assert.equal(next.supervisor.actors, 3);
    await next.stop();
    const after = await new PgSnapshotStore(db.pool).loadOne(0, 'veh-3');
    assert.equal(after?.view.ts, ts + 20_000, 'the hand-off stored veh-3\'s newest state');
  });

  it('#8 a restore that fails after its first page is retried while the partition stays active and degraded; its points apply meanwhile', async () => {
    await db.pool.query('TRUNCATE vehicle_snapshots, partition_epochs');
    const bus = new EmbeddedLog();
    await bus.ensureTopics([Topics.telemetryRaw, Topics.vehicleUpdates, Topics.vehicleEvents].map((name) => ({ name, partitions: 1 })));
    const ts = Date.now() - 60_000;
    const point: Point = (device, i) => ({ key: `dev-${device}`, value: encodeMsgpack({ deviceId: `dev-${device}`, ts: ts + i * 10_000, lat: 52.5 + i / 1000, lon: 13.4, ...(i === 0 ? { odometer: 1000 } : {}) }) });
    await seed(db, bus, point, ts);

    // Every read of the pages fails after the first page until `healed`.
    const inner = new PgSnapshotStore(db.pool, { pageSize: 1 });
    let healed = false;
    let attempts = 0;
    const store: SnapshotStore = {
      kind: inner.kind, acquire: (p) => inner.acquire(p), load: (p) => inner.load(p), save: (p, e, x) => inner.save(p, e, x),
      loadOne: (p, id) => inner.loadOne(p, id), loadMany: (p, ids) => inner.loadMany(p, ids), close: () => inner.close(),
      async *loadPages(p): AsyncIterable<readonly VehicleSnapshot[]> {
        attempts++;
        let n = 0;
        for await (const page of inner.loadPages(p)) {
          if (n++ > 0 && !healed) throw new Error('page read refused (test)');
          yield page;
        }
      },
    };
    const next = node(db, store, bus);
    await next.supervisor.start(); // after the first attempt, failed
    try {
      assert.deepEqual([...next.supervisor.phases().values()], ['active']);
      assert.match(next.supervisor.health.lastFailure ?? '', /restore partition 0: page read refused/);
      await bus.publish(Topics.telemetryRaw, [point(3, 2)]);
      for (let i = 0; i < 300 && next.index.get('veh-3')?.ts !== ts + 20_000; i++) await sleep(10);
      assert.ok((next.index.get('veh-3')?.odometer ?? 0) > 1000, 'veh-3\'s point applied on its stored state while the restore fails');
      healed = true;
      for (let i = 0; i < 500 && next.index.get('veh-2') === undefined; i++) await sleep(10);
      assert.equal(next.index.get('veh-2')?.ts, ts + 10_000, 'a retry restored the rest');
      assert.ok(attempts >= 2);
      for (let i = 0; i < 300 && next.supervisor.health.lastFailure !== null; i++) await sleep(10);
      assert.equal(next.supervisor.health.lastFailure, null, 'and the node is healthy again');
      assert.equal(next.index.get('veh-3')?.ts, ts + 20_000, 'veh-3 keeps its newer state');
    } finally {
      await next.stop();
    }
  });
});
