import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { start as startActorSystem, stop as stopActor, type Ref } from 'nact';
import { DEFAULT_SETTINGS } from '../../actors/domain/domain-settings.js';
import { DeliveryHub } from '../../actors/delivery-hub.js';
import { FleetDirectory } from '../../actors/fleet-directory.js';
import { PartitionShard } from '../../actors/partition-shard.js';
import { PartitionCheckpointer } from '../../actors/partition-checkpointer.js';
import { ShardSupervisor } from '../../actors/shard-supervisor.js';
import { SpatialStateIndex } from '../../actors/spatial-state-index.js';
import { noMetrics, type EngineMetrics } from '../../actors/ports/engine-metrics.js';
import { silentLogger } from '../../actors/ports/logger.js';
import { Topics, type LogRecord } from '../../actors/ports/partitioned-log.js';
import type { HistoryStore } from '../../actors/ports/history-store.js';
import type { SnapshotStore } from '../../actors/ports/snapshot-store.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import type { TripSegment } from '../../actors/domain/trip-segment.js';
import type { VehicleSnapshot } from '../../actors/domain/vehicle-state.js';
import { unboundVehicleId as vid } from '../../actors/domain/reference-data.js';
import { applyPoint, applyProfile } from '../../actors/vehicle-logic.js';
import type { VehicleLogic } from '../../actors/vehicle-actor.js';
import { decodeRecordValue, encodeMsgpack, encodeMsgpackBatch } from '../../adapters/codec/msgpack-codec.js';
import { EmbeddedLog } from '../../adapters/embedded/embedded-log.js';
import { MemoryHistoryStore } from '../../adapters/embedded/memory-history-store.js';
import { MemorySnapshotStore } from '../../adapters/embedded/memory-snapshot-store.js';
import { PgHistoryStore } from '../../adapters/postgres/pg-history-store.js';
import { PgSnapshotStore } from '../../adapters/postgres/pg-snapshot-store.js';
import { createMigratedDatabase, type TestDatabase } from '../postgres/pg-test-db.js';

/** The logic throws for a point at this latitude (a bug in the vehicle logic, as the #7.3 tests inject it). */
const POISON_LAT = 13.13;
const poisonLogic: VehicleLogic = {
  applyProfile,
  applyPoint: (state, p, events, now) => {
    if (p.lat === POISON_LAT) throw new Error('logic bug');
    return applyPoint(state, p, events, now);
  },
};
/** A speed limit, so the route has overspeed episodes too. */
const SETTINGS = { ...DEFAULT_SETTINGS, speedLimitKmh: 60 };
const STEP_MS = 10_000;
const t0 = Date.now() - 20 * 60_000;

interface RoutePoint {
  readonly ts: number;
  readonly lat: number;
  readonly lon: number;
  readonly speed: number;
  readonly ignition: boolean;
}

/**
 * 60 points 10 s apart: parked, a trip with an overspeed episode, a stop long enough to end the
 * trip (idling), a second trip. Speeds are exact in float4, as PostgreSQL stores them.
 */
function route(): RoutePoint[] {
  const out: RoutePoint[] = [];
  let lon = 13.4;
  for (let i = 0; i < 60; i++) {
    const moving = (i >= 3 && i <= 24) || i >= 46;
    const speed = !moving ? 0 : i >= 10 && i <= 14 ? 80.5 : 50;
    lon += (speed / 360) / (111.32 * Math.cos((52.5 * Math.PI) / 180));
    out.push({ ts: t0 + i * STEP_MS, lat: 52.5, lon, speed, ignition: true });
  }
  return out;
}

/** The stores a run writes to, recording what reached them. */
interface Stores {
  readonly snapshots: SnapshotStore;
  readonly history: HistoryStore;
}

class Recorded {
  readonly events: VehicleEvent[] = [];
  readonly published: VehicleEvent[] = [];
  readonly segments = new Map<string, TripSegment>();
  crashes = 0;
  recoveries = 0;
  replayed = 0;
}

const strip = (id: string, vehicleId: string) => id.replace(vehicleId, 'V');

/** A snapshot without what names the vehicle or depends on the wall clock (receipt time). */
function comparable(s: VehicleSnapshot | undefined): unknown {
  assert.ok(s, 'a snapshot was written');
  const { id: _id, ...view } = s.view;
  const domain = { ...s.domain };
  delete domain.lastReceivedAt;
  return { view, recent: s.recent, accepted: s.accepted, domain, geofencesPending: s.geofencesPending, held: s.heldEvents?.map((e) => strip(e.id, s.vehicleId)) };
}

describe('#11 a crashed vehicle actor replays the points it applied since its snapshot', () => {
  let system: Ref<unknown>;
  before(() => { system = startActorSystem(); });
  after(() => { stopActor(system); });

  /**
   * One vehicle through the route on its own shard: points 0–19 then a snapshot (a hand-off
   * checkpoint), 20–34 written to history without a snapshot, 35–44 still unwritten in memory,
   * then (with `crash`) a point that makes the logic throw, then 45–59 and a last snapshot.
   */
  async function run(stores: Stores, partition: number, deviceId: string, crash: boolean) {
    const rec = new Recorded();
    const vehicleId = vid(deviceId);
    const recordEvents = stores.history.appendEvents.bind(stores.history);
    stores.history.appendEvents = async (events) => {
      rec.events.push(...events);
      await recordEvents(events);
    };
    const recordSegments = stores.history.upsertSegments.bind(stores.history);
    stores.history.upsertSegments = async (segments) => {
      for (const s of segments) rec.segments.set(strip(s.id, vehicleId), s);
      await recordSegments(segments);
    };
    class RecordingHub extends DeliveryHub {
      override publishEvent(e: VehicleEvent): void {
        rec.published.push(e);
        super.publishEvent(e);
      }
    }
    const metrics: EngineMetrics = {
      ...noMetrics,
      actorCrashed: () => { rec.crashes++; },
      crashReplayed: (_p, n) => { rec.recoveries++; rec.replayed += n; },
    };
    const epoch = await stores.snapshots.acquire(partition);
    const directory = new FleetDirectory({ companies: [], vehicles: [], devices: [] }, { accept: true, limit: 1000 }, SETTINGS);
    const positionsAfter = stores.history.positionsAfter?.bind(stores.history);
    assert.ok(positionsAfter, 'the store reads positions back');
    const shard = new PartitionShard(partition, epoch, {
      system, directory, index: new SpatialStateIndex(), hub: new RecordingHub(), metrics, logger: silentLogger, decodeRecord: decodeRecordValue,
      lastSnapshot: (p, id) => stores.snapshots.loadOne(p, id), storedPositions: positionsAfter, vehicleLogic: poisonLogic,
    });
    const bus = new EmbeddedLog();
    await bus.ensureTopics([Topics.vehicleUpdates, Topics.vehicleEvents].map((name) => ({ name, partitions: 2 })));
    const checkpointer = new PartitionCheckpointer({
      bus, snapshots: stores.snapshots, history: stores.history, currentState: null, encodeRecords: encodeMsgpackBatch, metrics, logger: silentLogger, snapshotIntervalMs: 3_600_000,
    }, async () => {});
    let offset = 0;
    const feed = async (points: readonly { ts: number; lat: number; lon: number; speed?: number; ignition?: boolean }[]) => {
      const records: LogRecord[] = points.map((p) => ({ topic: Topics.telemetryRaw, partition, offset: offset++, key: deviceId, value: encodeMsgpack({ deviceId, ...p }), timestamp: Date.now() }));
      for (const r of records) await shard.apply([r]);
      await shard.settled();
    };
    const points = route();
    await feed(points.slice(0, 20));
    assert.equal(await checkpointer.checkpoint(shard, 'now'), 'snapshotted');
    await feed(points.slice(20, 35));
    assert.equal(await checkpointer.checkpoint(shard), 'written', 'points 20–34 are in the history, not in a snapshot');
    await feed(points.slice(35, 45));
    if (crash) {
      await feed([{ ts: points[44].ts + 5000, lat: POISON_LAT, lon: 13.4 }]);
      for (let i = 0; i < 500 && rec.recoveries === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(rec.crashes, 1, 'the actor crashed once');
      assert.equal(rec.recoveries, 1, 'and was recovered');
    }
    await feed(points.slice(45));
    assert.equal(await checkpointer.checkpoint(shard, 'now'), 'snapshotted');
    const snapshot = await stores.snapshots.loadOne(partition, vehicleId);
    shard.close();
    return { rec, snapshot, vehicleId };
  }

  async function compare(storesOf: () => Promise<Stores>, tag: string) {
    const control = await run(await storesOf(), 0, `ctl-${tag}`, false);
    const crashed = await run(await storesOf(), 1, `crash-${tag}`, true);
    assert.equal(crashed.rec.replayed, 25, 'the 15 stored and the 10 unwritten points since the snapshot were replayed');
    assert.deepEqual(comparable(crashed.snapshot), comparable(control.snapshot), 'odometer, last position, trips and stops, episodes: as without the crash');
    // device_online is stamped with its receipt (wall clock): its id differs between the runs.
    const ids = (events: readonly VehicleEvent[], vehicleId: string) => events.map((e) => (e.type === 'device_online' ? e.type : strip(e.id, vehicleId)));
    const types = new Set<string>(control.rec.events.map((e) => e.type));
    for (const t of ['trip_start', 'trip_end', 'overspeed_start', 'overspeed_end', 'idle_start']) assert.ok(types.has(t), `the route has a ${t}`);
    const written = ids(crashed.rec.events, crashed.vehicleId);
    assert.equal(new Set(written).size, written.length, 'no event was written twice');
    assert.deepEqual(written.sort(), ids(control.rec.events, control.vehicleId).sort(), 'the same events as without the crash');
    const published = ids(crashed.rec.published, crashed.vehicleId);
    assert.equal(new Set(published).size, published.length, 'no event was sent to clients twice');
    assert.deepEqual(published.sort(), ids(control.rec.published, control.vehicleId).sort());
    const segments = (m: Map<string, TripSegment>) => [...m].map(([id, s]) => ({ ...s, id, vehicleId: '', deviceId: '' })).sort((a, b) => a.id.localeCompare(b.id));
    assert.deepEqual(segments(crashed.rec.segments), segments(control.rec.segments), 'the trips and stops written are the same rows');
    assert.ok([...control.rec.segments.values()].some((s) => s.kind === 'trip' && s.closed), 'a trip closed during the replayed points');
  }

  it('#11 with the embedded stores: after the crash, state, events and trips equal a run without it', async () => {
    await compare(async () => ({ snapshots: new MemorySnapshotStore(), history: new MemoryHistoryStore() }), 'mem');
  });

  describe('#11 with real PostgreSQL', () => {
    let db: TestDatabase;
    before(async () => { db = await createMigratedDatabase(); });
    after(async () => { await db?.drop(); });

    it('#11 after the crash, state, events and trips equal a run without it (positions read back from PostgreSQL)', async () => {
      await compare(async () => ({ snapshots: new PgSnapshotStore(db.pool), history: new PgHistoryStore(db.pool) }), 'pg');
    });

    it('#11 PgHistoryStore.positionsAfter: the newest `limit` positions after a time, oldest first, every field back', async () => {
      const history = new PgHistoryStore(db.pool);
      const vehicleId = 'read-back';
      const rows = [0, 1, 2, 3].map((i) => ({
        vehicleId,
        point: { deviceId: 'dev-rb', ts: t0 + i * 1000, lat: 52.5 + i / 1e6, lon: 13.4, speed: 52.3, course: 90.5, alt: 34.2, ignition: i % 2 === 0, fuel: 41.7, odometer: 1234.567, attrs: { sat: 9, driverUniqueId: 'd-1' } },
      }));
      await history.appendPositions([...rows, { vehicleId: 'other', point: { deviceId: 'dev-o', ts: t0 + 1500, lat: 1, lon: 1 } }]);
      assert.deepEqual(await history.positionsAfter(vehicleId, t0, 10), rows.slice(1).map((r) => r.point));
      assert.deepEqual(await history.positionsAfter(vehicleId, -Infinity, 2), rows.slice(2).map((r) => r.point), 'the newest two');
      assert.deepEqual(await history.positionsAfter(vehicleId, t0 + 3000, 10), []);
      await history.appendPositions([{ vehicleId, point: { deviceId: 'dev-rb', ts: t0 + 5000, lat: 1, lon: 2 } }]);
      assert.deepEqual((await history.positionsAfter(vehicleId, t0 + 3000, 10)), [{ deviceId: 'dev-rb', ts: t0 + 5000, lat: 1, lon: 2 }], 'fields not sent stay absent');
    });
  });

  it('#11 MemoryHistoryStore.positionsAfter keeps what was written for retainMs, each ts once', async () => {
    const history = new MemoryHistoryStore({ retainMs: 200 });
    const p = (ts: number, lat = 1) => ({ vehicleId: 'v', point: { deviceId: 'd', ts, lat, lon: 1 } });
    await history.appendPositions([p(t0 + 2000), p(t0 + 1000), { vehicleId: 'w', point: { deviceId: 'e', ts: t0 + 1500, lat: 1, lon: 1 } }]);
    await history.appendPositions([p(t0 + 1000, 2), p(t0 + 3000)]);
    assert.deepEqual((await history.positionsAfter('v', t0, 10)).map((q) => [q.ts - t0, q.lat]), [[1000, 1], [2000, 1], [3000, 1]], 'in time order; a ts written again keeps its first row');
    assert.deepEqual((await history.positionsAfter('v', t0 + 1000, 1)).map((q) => q.ts - t0), [3000], 'the newest `limit`');
    await new Promise((r) => setTimeout(r, 250));
    assert.deepEqual(await history.positionsAfter('v', t0, 10), [], 'forgotten after retainMs');
  });

  it('#11 while a crashed actor is put back, checkpoints write no snapshot and commit nothing; the next one stores the replayed state', async () => {
    const snapshots = new MemorySnapshotStore();
    const history = new MemoryHistoryStore();
    const epoch = await snapshots.acquire(0);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => { release = r; });
    let gated = false;
    let recovered = 0;
    const shard = new PartitionShard(0, epoch, {
      system, directory: new FleetDirectory({ companies: [], vehicles: [], devices: [] }, { accept: true, limit: 1000 }, { ...DEFAULT_SETTINGS, filterMaxSpeedKmh: 0 }),
      index: new SpatialStateIndex(), hub: new DeliveryHub(), metrics: { ...noMetrics, crashReplayed: () => { recovered++; } }, logger: silentLogger, decodeRecord: decodeRecordValue,
      // The snapshot read of the crashed vehicle waits for the test.
      lastSnapshot: async (p, id) => {
        if (gated) await gate;
        return snapshots.loadOne(p, id);
      },
      storedPositions: history.positionsAfter.bind(history), vehicleLogic: poisonLogic,
    });
    const bus = new EmbeddedLog();
    await bus.ensureTopics([Topics.vehicleUpdates, Topics.vehicleEvents].map((name) => ({ name, partitions: 1 })));
    const commits: number[] = [];
    const checkpointer = new PartitionCheckpointer({ bus, snapshots, history, currentState: null, encodeRecords: encodeMsgpackBatch, metrics: noMetrics, logger: silentLogger, snapshotIntervalMs: 3_600_000 }, async (_p, next) => { commits.push(next); });
    let offset = 0;
    const send = (ts: number, lat: number) => shard.apply([{ topic: Topics.telemetryRaw, partition: 0, offset: offset++, key: 'gate', value: encodeMsgpack({ deviceId: 'gate', ts, lat, lon: 13.4 }), timestamp: Date.now() }]);
    const feed = async (ts: number, lat: number) => {
      await send(ts, lat);
      await shard.settled();
    };
    await feed(t0, 50);
    assert.equal(await checkpointer.checkpoint(shard, 'now'), 'snapshotted');
    await feed(t0 + 1000, 50.1);
    assert.equal(await checkpointer.checkpoint(shard), 'written');
    await feed(t0 + 2000, 50.2);
    gated = true;
    await feed(t0 + 3000, POISON_LAT);
    // Waits in the actor's mailbox behind the recovery.
    await send(t0 + 4000, 50.4);
    assert.equal(await checkpointer.checkpoint(shard, 'now'), 'written', 'asked for snapshots, it wrote none: the crashed state is not stored');
    assert.deepEqual(commits, [1], 'nothing committed past the first snapshot');
    assert.equal((await snapshots.loadOne(0, vid('gate')))?.view.lat, 50, 'the stored snapshot is still the first one');
    release();
    for (let i = 0; i < 200 && recovered === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await shard.settled();
    assert.equal(await checkpointer.checkpoint(shard, 'now'), 'snapshotted');
    assert.deepEqual(commits, [1, 5]);
    const stored = await snapshots.loadOne(0, vid('gate'));
    assert.deepEqual([stored?.view.lat, stored?.accepted], [50.4, 4], 'the replayed state with the point queued behind the crash on top');
    shard.close();
  });

  it('#11 through the supervisor: the crashed vehicle is back where its last point put it, read from the history and the unwritten points', async () => {
    const bus = new EmbeddedLog();
    await bus.ensureTopics([Topics.telemetryRaw, Topics.vehicleUpdates, Topics.vehicleEvents].map((name) => ({ name, partitions: 1 })));
    const index = new SpatialStateIndex();
    const history = new MemoryHistoryStore();
    const asked: [string, number][] = [];
    const positionsAfter = history.positionsAfter.bind(history);
    history.positionsAfter = async (id, afterTs, limit) => {
      asked.push([id, afterTs]);
      return positionsAfter(id, afterTs, limit);
    };
    let recovered = 0;
    let replayed = 0;
    const supervisor = new ShardSupervisor({
      system, directory: new FleetDirectory({ companies: [], vehicles: [], devices: [] }, { accept: true, limit: 1000 }, { ...DEFAULT_SETTINGS, filterMaxSpeedKmh: 0 }), index, hub: new DeliveryHub(),
      metrics: { ...noMetrics, crashReplayed: (_p, n) => { recovered++; replayed += n; } }, logger: silentLogger, decodeRecord: decodeRecordValue, vehicleLogic: poisonLogic,
      bus, snapshots: new MemorySnapshotStore(), history, currentState: null, encodeRecords: encodeMsgpackBatch,
      options: { groupId: 'g', checkpointIntervalMs: 50, snapshotIntervalMs: 3_600_000, maxPendingPositions: 1_000_000 },
    });
    await supervisor.start();
    const rec = (ts: number, lat: number) => ({ key: 'sup', value: encodeMsgpack({ deviceId: 'sup', ts, lat, lon: 13.4 }) });
    await bus.publish(Topics.telemetryRaw, [rec(t0, 50), rec(t0 + 1000, 50.1)]);
    for (let i = 0; i < 200 && bus.committedOffset('g', Topics.telemetryRaw, 0) !== 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(bus.committedOffset('g', Topics.telemetryRaw, 0), 2, 'the first two points are in a snapshot');
    await bus.publish(Topics.telemetryRaw, [rec(t0 + 2000, 50.2), rec(t0 + 3000, 50.3), rec(t0 + 4000, POISON_LAT)]);
    for (let i = 0; i < 300 && recovered === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(recovered, 1);
    assert.deepEqual(asked, [[vid('sup'), t0 + 1000]], 'the history was asked for the points after the snapshot\'s newest');
    assert.equal(replayed, 2);
    assert.equal(index.get(vid('sup'))?.lat, 50.3, 'back at its last point, not at its snapshot');
    await supervisor.stop();
  });
});
