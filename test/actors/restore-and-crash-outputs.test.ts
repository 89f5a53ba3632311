import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { start as startActorSystem, stop as stopActor, type Ref } from 'nact';
import { DeliveryHub, type Update } from '../../actors/delivery-hub.js';
import { FleetDirectory } from '../../actors/fleet-directory.js';
import { PartitionShard, type ShardDeps } from '../../actors/partition-shard.js';
import { PartitionCheckpointer } from '../../actors/partition-checkpointer.js';
import { SpatialStateIndex } from '../../actors/spatial-state-index.js';
import { noMetrics } from '../../actors/ports/engine-metrics.js';
import { silentLogger } from '../../actors/ports/logger.js';
import { Topics, type LogRecord } from '../../actors/ports/partitioned-log.js';
import type { CurrentStateStore } from '../../actors/ports/current-state-store.js';
import { unboundVehicleId as vid } from '../../actors/domain/reference-data.js';
import { DEFAULT_SETTINGS, type DomainSettings } from '../../actors/domain/domain-settings.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import { applyPoint, applyProfile, newVehicleState } from '../../actors/vehicle-logic.js';
import { recoverCrashed } from '../../actors/crash-replay.js';
import { PendingChanges } from '../../actors/pending-changes.js';
import { LivenessWheel } from '../../actors/liveness-wheel.js';
import { decodeRecordValue, encodeMsgpack, encodeMsgpackBatch } from '../../adapters/codec/msgpack-codec.js';
import { EmbeddedLog } from '../../adapters/embedded/embedded-log.js';
import { MemoryHistoryStore } from '../../adapters/embedded/memory-history-store.js';
import { MemorySnapshotStore } from '../../adapters/embedded/memory-snapshot-store.js';

/** The logic throws for a point at this latitude. */
const POISON_LAT = 13.13;
const OFFLINE_MS = DEFAULT_SETTINGS.offlineTimeoutS * 1000;

class RecordingHub extends DeliveryHub {
  readonly sent: VehicleEvent[] = [];
  /** Throws once from the next publishEvent (after recording it: it never reached a client). */
  failNextEvent = false;
  /** Throws once from the next publish of a view (after the index took it). */
  failNextView = false;

  override publishEvent(e: VehicleEvent): void {
    if (this.failNextEvent) {
      this.failNextEvent = false;
      throw new Error('hub failed');
    }
    this.sent.push(e);
    super.publishEvent(e);
  }

  override publish(u: Update): void {
    super.publish(u);
    if (this.failNextView) {
      this.failNextView = false;
      throw new Error('hub failed');
    }
  }
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

describe('restored and crashed vehicles keep their outputs (#10 status, #11 crash replay)', () => {
  // An actor system per test: each test's shards reuse partition 0 and its epochs.
  const systems: Ref<unknown>[] = [];
  after(() => { for (const s of systems) stopActor(s); });

  function setup(settings: Partial<DomainSettings> = {}) {
    const system = startActorSystem();
    systems.push(system);
    const snapshots = new MemorySnapshotStore();
    const history = new MemoryHistoryStore();
    const directory = new FleetDirectory({ companies: [], vehicles: [], devices: [] }, { accept: true, limit: 1000 }, { ...DEFAULT_SETTINGS, ...settings });
    const bus = new EmbeddedLog();
    const written: VehicleView[] = [];
    const currentState = {
      kind: 'recording', write: async (views: readonly VehicleView[]) => { written.push(...views); }, remove: async () => {}, get: async () => undefined, close: async () => {},
    } as unknown as CurrentStateStore;
    const checkpointer = new PartitionCheckpointer({ bus, snapshots, history, encodeRecords: encodeMsgpackBatch, metrics: noMetrics, logger: silentLogger, currentState }, async () => {});
    let offset = 0;
    const shardOf = async (extra: Partial<ShardDeps> = {}) => {
      const hub = new RecordingHub();
      const index = new SpatialStateIndex();
      const shard = new PartitionShard(0, await snapshots.acquire(0), {
        system, directory, index, hub, metrics: noMetrics, logger: silentLogger, decodeRecord: decodeRecordValue,
        lastSnapshot: (p, id) => snapshots.loadOne(p, id), storedPositions: history.positionsAfter.bind(history),
        vehicleLogic: { applyProfile, applyPoint: (s, p, e, n) => { if (p.lat === POISON_LAT) throw new Error('bug'); return applyPoint(s, p, e, n); } },
        ...extra,
      });
      const send = async (points: readonly object[], receivedAt = Date.now()) => {
        const record: LogRecord = { topic: Topics.telemetryRaw, partition: 0, offset: offset++, key: 'd1', value: encodeMsgpack(points.map((p) => ({ deviceId: 'd1', lon: 13.4, ...p }))), timestamp: receivedAt };
        await shard.apply([record]);
        await shard.settled();
      };
      return { shard, hub, index, send };
    };
    return { snapshots, checkpointer, written, bus, shardOf };
  }

  for (const passivateAfterMs of [undefined, 1]) {
    it(`#10 #11 a vehicle restored online goes offline when silent${passivateAfterMs ? ' (restored passivated)' : ''}, and after a point of its own`, async () => {
      const s = setup();
      await s.bus.ensureTopics([Topics.vehicleUpdates, Topics.vehicleEvents].map((name) => ({ name, partitions: 1 })));
      const first = await s.shardOf();
      await first.send([{ ts: Date.now() - 1000, lat: 52.5 }]);
      assert.equal(first.index.get(vid('d1'))?.status, 'online');
      assert.equal(await s.checkpointer.checkpoint(first.shard, 'now'), 'snapshotted');
      first.shard.close();

      // Silent after the restore.
      const silent = await s.shardOf(passivateAfterMs ? { passivateAfterMs } : {});
      for await (const page of s.snapshots.loadPages(0)) silent.shard.restore(page);
      silent.shard.checkLiveness(Date.now() + OFFLINE_MS + 60_000);
      await until(() => silent.index.get(vid('d1'))?.status === 'offline', 'the restored vehicle went offline');
      assert.deepEqual(silent.hub.sent.map((e) => e.type), ['device_offline']);
      silent.shard.close();

      // One point after the restore (no change of status), then silent.
      const again = await s.shardOf(passivateAfterMs ? { passivateAfterMs } : {});
      for await (const page of s.snapshots.loadPages(0)) again.shard.restore(page);
      await again.send([{ ts: Date.now(), lat: 52.5001 }]);
      assert.equal(again.index.get(vid('d1'))?.status, 'online');
      again.shard.checkLiveness(Date.now() + OFFLINE_MS + 60_000);
      await until(() => again.index.get(vid('d1'))?.status === 'offline', 'the vehicle went offline after its point');
      assert.ok(again.hub.sent.some((e) => e.type === 'device_offline'));
      again.shard.close();
    });
  }

  it('#11 a crash after the view went to the index: the next checkpoint writes it to the current state', async () => {
    const s = setup();
    await s.bus.ensureTopics([Topics.vehicleUpdates, Topics.vehicleEvents].map((name) => ({ name, partitions: 1 })));
    const { shard, hub, index, send } = await s.shardOf();
    const t = Date.now() - 60_000;
    await send([{ ts: t, lat: 52.5 }]);
    await s.checkpointer.checkpoint(shard, 'now');
    hub.failNextView = true;
    await send([{ ts: t + 10_000, lat: 52.51 }]);
    await until(() => !shard.restoring && shard.inFlight === 0 && !hub.failNextView, 'the crash happened');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(index.get(vid('d1'))?.lat, 52.51, 'the index holds the new view');
    s.written.length = 0;
    await s.checkpointer.checkpoint(shard, 'now');
    assert.ok(s.written.some((v) => v.lat === 52.51), 'the new view reached the current-state store');
    shard.close();
  });

  for (const windowS of [0, 5]) {
    it(`#11 events of points accepted earlier in the crashed message are sent (reorder window ${windowS} s)`, async () => {
      const s = setup({ reorderWindowS: windowS });
      const { shard, hub, send } = await s.shardOf();
      const t0 = Date.now() - 600_000;
      await send([{ ts: t0, lat: 52.5, ignition: false }]);
      await send([{ ts: t0 + 10_000, lat: 52.5, ignition: true }, { ts: t0 + 20_000, lat: 52.5, ignition: true }, { ts: t0 + 30_000, lat: POISON_LAT }]);
      await new Promise((r) => setTimeout(r, 100));
      await send([{ ts: t0 + 60_000, lat: 52.5, ignition: true }]);
      await send([{ ts: t0 + 120_000, lat: 52.5, ignition: true }]);
      await new Promise((r) => setTimeout(r, 50));
      const ignitions = hub.sent.filter((e) => e.type === 'ignition_on');
      assert.equal(ignitions.length, 1, 'ignition_on was sent once');
      shard.close();
    });
  }

  it('#11 events released by a status check that crashed stay held and go out with the next check', async () => {
    const s = setup({ reorderWindowS: 5 });
    const { shard, hub, send } = await s.shardOf();
    const t0 = Date.now() - 600_000;
    // Received a minute ago: the vehicle has been silent for longer than its window when the check crashes.
    await send([{ ts: t0, lat: 52.5, ignition: false }], Date.now() - 60_000);
    await send([{ ts: t0 + 10_000, lat: 52.5, ignition: true }], Date.now() - 60_000);
    assert.ok(!hub.sent.some((e) => e.type === 'ignition_on'), 'the window holds ignition_on');
    hub.failNextEvent = true;
    shard.checkLiveness(Date.now() + 10_000);
    await until(() => !hub.failNextEvent, 'the status check crashed');
    await new Promise((r) => setTimeout(r, 100));
    await shard.settled();
    shard.checkLiveness(Date.now() + 20_000);
    await until(() => hub.sent.some((e) => e.type === 'ignition_on'), 'ignition_on went out with the next check');
    shard.close();
  });

  it('#11 a restored vehicle without an actor whose status check throws is recovered; its held events go out with the next check', async () => {
    const s = setup({ reorderWindowS: 5 });
    await s.bus.ensureTopics([Topics.vehicleUpdates, Topics.vehicleEvents].map((name) => ({ name, partitions: 1 })));
    const first = await s.shardOf();
    const t0 = Date.now() - 600_000;
    await first.send([{ ts: t0, lat: 52.5, ignition: false }], Date.now() - 60_000);
    await first.send([{ ts: t0 + 10_000, lat: 52.5, ignition: true }], Date.now() - 60_000);
    assert.equal(await s.checkpointer.checkpoint(first.shard, 'now'), 'snapshotted', 'the snapshot holds ignition_on');
    first.shard.close();

    const { shard, hub } = await s.shardOf();
    for await (const page of s.snapshots.loadPages(0)) shard.restore(page);
    hub.failNextEvent = true;
    shard.checkLiveness(Date.now() + 1000);
    assert.equal(hub.failNextEvent, false, 'the check ran on the restored state and threw');
    await new Promise((r) => setTimeout(r, 100));
    await shard.settled();
    shard.checkLiveness(Date.now() + 20_000);
    await until(() => hub.sent.some((e) => e.type === 'ignition_on'), 'ignition_on went out with the next check');
    shard.close();
  });
});

describe('#11 crash replay: what it could not read', () => {
  const profile = { vehicleId: 'v1', company: null };
  const points = (from: number, n: number): TelemetryPoint[] => Array.from({ length: n }, (_, k) => ({ deviceId: 'd1', ts: from + k * 10_000, lat: 52.5 + k * 0.001, lon: 13.4 }));

  it('#11 a snapshot that cannot be read: the state is rebuilt, the problem reported, and its snapshot kept out of the writes', async () => {
    const crashed = newVehicleState(profile, 'd1', 0);
    const recovery = await recoverCrashed(crashed, {
      lastSnapshot: async () => { throw new Error('store down'); },
      unwritten: points(Date.now() - 60_000, 3),
      retryDelayMs: () => 0,
    }, applyPoint, Date.now());
    assert.equal(recovery.snapshotUnread, true);
    assert.match(recovery.problem ?? '', /snapshot unreadable/);
    assert.equal(recovery.replayed, 3);

    const pending = new PendingChanges();
    pending.markChanged(recovery.state);
    pending.keepOut(recovery.state);
    assert.equal(pending.take(1, 1, true).snapshots.length, 0, 'no snapshot of it is written');
    pending.forget(recovery.state);
    pending.markChanged(recovery.state);
    assert.equal(pending.take(2, 2, true).snapshots.length, 1, 'once forgotten (retired, passivated) it is written again');
  });

  it('#11 positions the history store forgot after the snapshot: reported as a problem', async () => {
    const crashed = newVehicleState(profile, 'd1', 0);
    const stored = points(Date.now() - 60_000, 2);
    const ok = await recoverCrashed(crashed, { storedPositions: async () => stored, storedKeptAfter: () => -Infinity, unwritten: [] }, applyPoint, Date.now());
    assert.equal(ok.problem, null);
    const forgot = await recoverCrashed(crashed, { storedPositions: async () => stored, storedKeptAfter: () => Date.now() - 120_000, unwritten: [] }, applyPoint, Date.now());
    assert.match(forgot.problem ?? '', /forgot positions/);
  });

  it('#11 MemoryHistoryStore keeps maxRows positions at most, the oldest batches forgotten first, and says up to when it forgot', async () => {
    const store = new MemoryHistoryStore({ retainMs: 3_600_000, maxRows: 5 });
    assert.equal(store.keptAfter(), -Infinity);
    const t = Date.now() - 60_000;
    const rows = (from: number, n: number) => points(from, n).map((point) => ({ vehicleId: 'v1', point }));
    await store.appendPositions(rows(t, 3));
    await store.appendPositions(rows(t + 30_000, 3));
    assert.equal(store.size, 3, 'the oldest batch went');
    assert.equal(store.keptAfter(), t + 20_000, 'the newest forgotten ts');
    assert.deepEqual((await store.positionsAfter('v1', -Infinity, 100)).map((p) => p.ts), [t + 30_000, t + 40_000, t + 50_000]);
  });
});

describe('#10 liveness wheel', () => {
  it('#10 a check booked for a time the wheel has walked past (a restored vehicle overdue) is due at the next walk, and later bookings do not hide it', () => {
    const wheel = new LivenessWheel();
    assert.deepEqual(wheel.due(10_000), []);
    wheel.schedule('overdue', 5_000);
    wheel.schedule('overdue', 12_000);
    assert.deepEqual(wheel.due(11_000), ['overdue']);
    assert.deepEqual(wheel.due(20_000), []);
  });
});
