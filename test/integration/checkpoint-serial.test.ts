import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
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

/** The real PostgreSQL store, counting the saves of each partition in flight at once. */
function recording(inner: PgSnapshotStore) {
  const inFlight = new Map<number, number>();
  const stats = { maxInFlight: 0, inFlight: (p: number) => inFlight.get(p) ?? 0 };
  const store: SnapshotStore = {
    kind: inner.kind,
    acquire: (p) => inner.acquire(p),
    load: (p) => inner.load(p),
    loadPages: (p) => inner.loadPages(p),
    loadOne: (p, id) => inner.loadOne(p, id),
    close: () => inner.close(),
    async save(p: number, epoch: number, snapshots: readonly VehicleSnapshot[]) {
      const n = (inFlight.get(p) ?? 0) + 1;
      inFlight.set(p, n);
      stats.maxInFlight = Math.max(stats.maxInFlight, n);
      try {
        await inner.save(p, epoch, snapshots);
      } finally {
        inFlight.set(p, (inFlight.get(p) ?? 1) - 1);
      }
    },
  };
  return { store, stats };
}

describe('#7.6a checkpoints of one partition never overlap (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createMigratedDatabase();
  });
  after(async () => {
    await db.drop();
  });

  it('#7.6a a checkpoint round asked for while the hand-off checkpoint of a partition is still writing does not write that partition beside it', async () => {
    const system = startActorSystem();
    const bus = new EmbeddedLog();
    await bus.ensureTopics([Topics.telemetryRaw, Topics.vehicleUpdates, Topics.vehicleEvents].map((name) => ({ name, partitions: 1 })));
    const directory = new FleetDirectory({ companies: [{ id: 'A', name: 'A', active: true }], vehicles: [{ id: 'veh-1', companyId: 'A', name: 'One' }], devices: [{ deviceId: 'dev-1', vehicleId: 'veh-1' }] }, { accept: false, limit: 0 });
    const index = new SpatialStateIndex();
    const { store, stats } = recording(new PgSnapshotStore(db.pool));
    const supervisor = new ShardSupervisor({
      system, directory, index, hub: new DeliveryHub(), metrics: noMetrics, logger: silentLogger, decodeRecord: decodeRecordValue,
      bus, snapshots: store, history: new MemoryHistoryStore(), currentState: null, encodeRecords: encodeMsgpackBatch,
      options: { groupId: 'g', checkpointIntervalMs: 3_600_000, maxPendingPositions: 1_000_000 },
    });
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await supervisor.start();
      const ts = Date.now() - 10_000;
      const point = (i: number) => ({ key: 'dev-1', value: encodeMsgpack({ deviceId: 'dev-1', ts: ts + i, lat: 52.5 + i / 1000, lon: 13.4 }) });
      await bus.publish(Topics.telemetryRaw, [point(0)]);
      for (let i = 0; i < 200 && index.get('veh-1') === undefined; i++) await new Promise((r) => setTimeout(r, 10));
      await supervisor.checkpointAll();
      await bus.publish(Topics.telemetryRaw, [point(1)]);
      for (let i = 0; i < 200 && index.get('veh-1')?.ts !== ts + 1; i++) await new Promise((r) => setTimeout(r, 10));

      // Hold the partition's epoch row: the hand-off checkpoint's snapshot write waits on it.
      await locker.query('BEGIN');
      await locker.query('SELECT epoch FROM partition_epochs WHERE partition = 0 FOR UPDATE');
      const stopping = supervisor.stop();
      for (let i = 0; i < 500 && stats.inFlight(0) === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(stats.inFlight(0), 1, 'the hand-off checkpoint is writing');
      // The vehicle changes again (a rename) and a checkpoint round is asked for meanwhile.
      await supervisor.applyReference({ kind: 'vehicle', id: 'veh-1', value: { id: 'veh-1', companyId: 'A', name: 'Renamed' } });
      const round = supervisor.checkpointAll();
      await new Promise((r) => setTimeout(r, 300));
      await locker.query('COMMIT');
      await Promise.all([round, stopping]);
      assert.equal(stats.maxInFlight, 1, 'never two snapshot writes of one partition at once');
      const stored = await new PgSnapshotStore(db.pool).loadOne(0, 'veh-1');
      assert.equal(stored?.view.ts, ts + 1, 'the newest position is what is stored');
    } finally {
      await locker.end();
      stopActor(system);
    }
  });
});
