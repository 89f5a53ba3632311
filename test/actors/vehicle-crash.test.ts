import { DEFAULT_SETTINGS } from '../../actors/domain/domain-settings.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { start as startActorSystem, stop as stopActor, type Ref } from 'nact';
import { DeliveryHub } from '../../actors/delivery-hub.js';
import { FleetDirectory } from '../../actors/fleet-directory.js';
import { PartitionShard } from '../../actors/partition-shard.js';
import { SpatialStateIndex } from '../../actors/spatial-state-index.js';
import { noMetrics, type EngineMetrics } from '../../actors/ports/engine-metrics.js';
import { silentLogger } from '../../actors/ports/logger.js';
import type { LogRecord } from '../../actors/ports/partitioned-log.js';
import type { VehicleSnapshot } from '../../actors/domain/vehicle-state.js';
import { unboundVehicleId as vid } from '../../actors/domain/reference-data.js';
import { applyPoint, applyProfile } from '../../actors/vehicle-logic.js';
import { decodeRecordValue, encodeMsgpack, encodeMsgpackBatch } from '../../adapters/codec/msgpack-codec.js';
import { ShardSupervisor } from '../../actors/shard-supervisor.js';
import { Topics } from '../../actors/ports/partitioned-log.js';
import { EmbeddedLog } from '../../adapters/embedded/embedded-log.js';
import { MemoryHistoryStore } from '../../adapters/embedded/memory-history-store.js';
import { MemorySnapshotStore } from '../../adapters/embedded/memory-snapshot-store.js';

/** The logic throws for a point at this latitude, after putting an event into the scratch list. */
const POISON_LAT = 13.13;

const t0 = Date.now() - 60_000;
let offset = 0;
let epoch = 0;
function record(deviceId: string, ts: number, lat: number, extra: Record<string, unknown> = {}): LogRecord {
  return { topic: 'telemetry.raw', partition: 0, offset: offset++, key: deviceId, value: encodeMsgpack({ deviceId, ts, lat, lon: 13.4, ...extra }), timestamp: Date.now() };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

describe('#7.3 vehicle actor crash containment (PartitionShard, nact onCrash)', () => {
  let system: Ref<unknown>;
  before(() => { system = startActorSystem(); });
  after(() => { stopActor(system); });

  function makeShard(opts: { lastSnapshot?: (p: number, id: string) => Promise<VehicleSnapshot | undefined>; directory?: FleetDirectory } = {}) {
    const counts = { crashes: 0, recovered: 0, replayed: 0, rejected: new Map<string, number>(), events: 0 };
    const metrics: EngineMetrics = {
      ...noMetrics,
      actorCrashed: () => { counts.crashes++; },
      crashReplayed: (_p, n) => { counts.recovered++; counts.replayed += n; },
      pointRejected: (reason) => { counts.rejected.set(reason, (counts.rejected.get(reason) ?? 0) + 1); },
      eventsEmitted: (n) => { counts.events += n; },
    };
    const index = new SpatialStateIndex();
    // The points jump whole degrees in seconds: no jump filter here.
    const directory = opts.directory ?? new FleetDirectory({ companies: [], vehicles: [], devices: [] }, { accept: true, limit: 1_000_000 }, { ...DEFAULT_SETTINGS, filterMaxSpeedKmh: 0 });
    const shard = new PartitionShard(0, ++epoch, {
      system, directory, index, hub: new DeliveryHub(), metrics, logger: silentLogger, decodeRecord: decodeRecordValue,
      ...(opts.lastSnapshot ? { lastSnapshot: opts.lastSnapshot } : {}),
      vehicleLogic: {
        applyProfile,
        applyPoint: (state, p, events) => {
          if (p.lat === POISON_LAT) {
            events.push({ id: 'leak', vehicleId: state.vehicleId, company: null, type: 'trip_start', ts: p.ts, lat: p.lat, lon: p.lon });
            throw new Error('logic bug');
          }
          return applyPoint(state, p, events);
        },
      },
    });
    return { shard, index, counts };
  }

  it('#7.3 #11 a vehicle actor that throws is contained: the batch completes, the vehicle is restored (snapshot + its unwritten point), the crash counted', async () => {
    const saved: VehicleSnapshot = {
      vehicleId: vid('crashy'), deviceId: 'crashy', partition: 0, accepted: 7, recent: [],
      view: { id: vid('crashy'), company: null, lat: 50, lon: 10, ts: t0, speed: 0, moving: false },
    };
    const { shard, index, counts } = makeShard({ lastSnapshot: async (_p, id) => (id === vid('crashy') ? saved : undefined) });
    await shard.apply([record('crashy', t0 + 1000, 51)]);
    await shard.settled();
    assert.equal(index.get(vid('crashy'))?.lat, 51);

    const batch = [record('ok-1', t0 + 2000, 52), record('crashy', t0 + 2000, POISON_LAT), record('ok-2', t0 + 2000, 53)];
    await shard.apply(batch);
    await shard.settled();
    assert.equal(shard.appliedOffset, batch[2].offset + 1, 'appliedOffset moves past the batch');
    assert.equal(index.get(vid('ok-1'))?.lat, 52);
    assert.equal(index.get(vid('ok-2'))?.lat, 53);
    await until(() => counts.crashes === 1 && counts.recovered === 1, 'the crash is counted and the vehicle recovered');
    assert.equal(counts.replayed, 1, 'the point accepted since the snapshot (not written yet) is replayed');
    assert.equal(index.get(vid('crashy'))?.lat, 51, 'the crashed vehicle is back where it was before the poison point');
    // The vehicles' own events (device_online) went out; the one the crashed message left did not.
    assert.deepEqual(shard.takeCheckpoint().events.filter((e) => e.id === 'leak'), [], 'the event the crashed message left in the scratch list reached nobody');

    // The restored actor keeps working, on top of its restored state.
    await shard.apply([record('crashy', t0 + 3000, 54), record('ok-1', t0 + 3000, 55)]);
    await shard.settled();
    assert.equal(index.get(vid('crashy'))?.lat, 54);
    assert.equal(index.get(vid('ok-1'))?.lat, 55);
    const checkpoint = shard.takeCheckpoint();
    assert.deepEqual(checkpoint.events.filter((e) => e.id === 'leak'), [], 'no leaked event rides along with a later message');
    assert.deepEqual(checkpoint.events.filter((e) => e.vehicleId === vid('crashy')).map((e) => e.type), [], 'its status came through the crash: no second device_online');
    assert.equal(checkpoint.snapshots.find((s) => s.vehicleId === vid('crashy'))?.accepted, 9, 'accepted continues from the snapshot and the replayed point');
    shard.close();
  });

  it('#7.3 #11 a vehicle without a snapshot starts afresh with its unwritten points replayed, or reset when none is left; release (settled + close) completes', async () => {
    const { shard, index, counts } = makeShard();
    await shard.apply([record('fresh', t0 + 1000, 51)]);
    await shard.settled();
    const poison = record('fresh', t0 + 2000, POISON_LAT);
    await shard.apply([poison]);
    await shard.settled();
    assert.equal(shard.appliedOffset, poison.offset + 1);
    await until(() => counts.recovered === 1, 'recovered');
    assert.equal(counts.replayed, 1);
    assert.equal(index.get(vid('fresh'))?.lat, 51, 'its one unwritten point replayed over an empty state');
    // Two checkpoints later its point is written (to no store here): nothing is left to replay.
    shard.takeCheckpoint();
    shard.takeCheckpoint();
    await shard.apply([record('fresh', t0 + 3000, POISON_LAT)]);
    await shard.settled();
    await until(() => counts.recovered === 2 && index.get(vid('fresh')) === undefined, 'reset: the vehicle left the index until its next point');
    await shard.apply([record('fresh', t0 + 1500, 52)]);
    await shard.settled();
    assert.equal(index.get(vid('fresh'))?.lat, 52, 'a reset vehicle takes any later point');
    shard.close();
  });

  it('#7.3 a device id nact refuses as an actor name (a:b) gets its actor; a record no actor can take is skipped and counted', async () => {
    class ThrowingDirectory extends FleetDirectory {
      override route(deviceId: string) {
        if (deviceId === 'boom') throw new Error('directory bug');
        return super.route(deviceId);
      }
    }
    const { shard, index, counts } = makeShard({ directory: new ThrowingDirectory({ companies: [], vehicles: [], devices: [] }, { accept: true, limit: 1_000_000 }) });
    const batch = [record('a:b', t0 + 1000, 51), record('boom', t0 + 1000, 52), record("it's/a space", t0 + 1000, 53), record('after', t0 + 1000, 54)];
    await shard.apply(batch);
    await shard.settled();
    assert.equal(shard.appliedOffset, batch[3].offset + 1);
    assert.equal(index.get(vid('a:b'))?.lat, 51);
    assert.equal(index.get(vid('after'))?.lat, 54);
    assert.equal(counts.rejected.get('ACTOR_UNAVAILABLE'), 1);
    shard.close();
  });

  it('#7.3 through the supervisor: a poison point is contained, the offset is committed past it, and stop() (release + shutdown) completes', async () => {
    const bus = new EmbeddedLog();
    await bus.ensureTopics([Topics.telemetryRaw, Topics.vehicleUpdates, Topics.vehicleEvents].map((name) => ({ name, partitions: 1 })));
    const index = new SpatialStateIndex();
    let crashes = 0;
    const supervisor = new ShardSupervisor({
      system, directory: new FleetDirectory({ companies: [], vehicles: [], devices: [] }, { accept: true, limit: 1_000_000 }), index, hub: new DeliveryHub(),
      metrics: { ...noMetrics, actorCrashed: () => { crashes++; } }, logger: silentLogger, decodeRecord: decodeRecordValue,
      vehicleLogic: { applyProfile, applyPoint: (state, p, events) => { if (p.lat === POISON_LAT) throw new Error('logic bug'); return applyPoint(state, p, events); } },
      bus, snapshots: new MemorySnapshotStore(), history: new MemoryHistoryStore(), currentState: null, encodeRecords: encodeMsgpackBatch,
      options: { groupId: 'g', checkpointIntervalMs: 50, maxPendingPositions: 1_000_000 },
    });
    await supervisor.start();
    const rec = (deviceId: string, lat: number) => ({ key: deviceId, value: encodeMsgpack({ deviceId, ts: t0 + 5000, lat, lon: 13.4 }) });
    await bus.publish(Topics.telemetryRaw, [rec('p-1', POISON_LAT), rec('p-2', 52), rec('p-3', 53)]);
    await bus.publish(Topics.telemetryRaw, [rec('p-4', 54)]);
    await until(() => index.get(vid('p-4')) !== undefined && crashes === 1, 'the records after the poison one are applied');
    assert.equal(index.get(vid('p-2'))?.lat, 52);
    for (let i = 0; i < 200 && bus.committedOffset('g', Topics.telemetryRaw, 0) !== 4; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(bus.committedOffset('g', Topics.telemetryRaw, 0), 4, 'the committed offset moved past the whole log');
    await supervisor.stop();
    assert.equal(supervisor.actors, 0);
  });

  it('#7.3 a snapshot that cannot be restored is skipped, the others of its page are restored', async () => {
    const { shard, index } = makeShard();
    const good = (id: string): VehicleSnapshot => ({ vehicleId: vid(id), deviceId: id, partition: 0, accepted: 1, recent: [], view: { id: vid(id), company: null, lat: 51, lon: 13, ts: t0, speed: 0, moving: false } });
    const broken = { vehicleId: vid('broken'), deviceId: 'broken', partition: 0, accepted: 1, view: { id: vid('broken'), company: null, lat: 1, lon: 1, ts: t0, speed: 0, moving: false } } as unknown as VehicleSnapshot;
    assert.equal(shard.restore([good('r-1'), broken, good('r-2')]), 2);
    assert.ok(index.get(vid('r-1')) && index.get(vid('r-2')));
    assert.equal(index.get(vid('broken')), undefined);
    shard.close();
  });
});
