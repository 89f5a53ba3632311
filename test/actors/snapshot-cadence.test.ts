import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { start as startActorSystem, stop as stopActor, type Ref } from 'nact';
import { DeliveryHub } from '../../actors/delivery-hub.js';
import { FleetDirectory } from '../../actors/fleet-directory.js';
import { PartitionShard } from '../../actors/partition-shard.js';
import { PartitionCheckpointer } from '../../actors/partition-checkpointer.js';
import { SpatialStateIndex } from '../../actors/spatial-state-index.js';
import { noMetrics, type EngineMetrics } from '../../actors/ports/engine-metrics.js';
import { silentLogger } from '../../actors/ports/logger.js';
import { Topics, type LogRecord } from '../../actors/ports/partitioned-log.js';
import type { PositionRow } from '../../actors/ports/history-store.js';
import type { VehicleSnapshot, VehicleView } from '../../actors/domain/vehicle-state.js';
import { unboundVehicleId as vid } from '../../actors/domain/reference-data.js';
import { decodeRecordValue, encodeMsgpack, encodeMsgpackBatch } from '../../adapters/codec/msgpack-codec.js';
import { EmbeddedLog } from '../../adapters/embedded/embedded-log.js';
import { MemoryHistoryStore } from '../../adapters/embedded/memory-history-store.js';
import { MemorySnapshotStore } from '../../adapters/embedded/memory-snapshot-store.js';

const t0 = Date.now() - 60_000;

/** What reached the stores, in order. */
class RecordingStores {
  readonly positions: PositionRow[] = [];
  readonly saved: VehicleSnapshot[][] = [];
  readonly views: VehicleView[][] = [];
  readonly commits: number[] = [];
  readonly snapshots = new MemorySnapshotStore();
  readonly history = new MemoryHistoryStore();

  constructor() {
    const save = this.snapshots.save.bind(this.snapshots);
    this.snapshots.save = async (p, e, s) => {
      this.saved.push([...s]);
      await save(p, e, s);
    };
    this.history.appendPositions = async (rows) => {
      this.positions.push(...rows);
    };
  }
}

describe('#11 snapshots on their own cadence: offsets committed only up to what the snapshots cover', () => {
  let system: Ref<unknown>;
  before(() => { system = startActorSystem(); });
  after(() => { stopActor(system); });

  async function setup(snapshotIntervalMs: number | undefined, metrics: EngineMetrics = noMetrics) {
    const stores = new RecordingStores();
    const epoch = await stores.snapshots.acquire(0);
    const directory = new FleetDirectory({ companies: [], vehicles: [], devices: [] }, { accept: true, limit: 1_000_000 });
    const shard = new PartitionShard(0, epoch, {
      system, directory, index: new SpatialStateIndex(), hub: new DeliveryHub(), metrics: noMetrics, logger: silentLogger, decodeRecord: decodeRecordValue,
    });
    const bus = new EmbeddedLog();
    await bus.ensureTopics([Topics.vehicleUpdates, Topics.vehicleEvents].map((name) => ({ name, partitions: 1 })));
    const checkpointer = new PartitionCheckpointer({
      bus, snapshots: stores.snapshots, history: stores.history, encodeRecords: encodeMsgpackBatch, metrics, logger: silentLogger,
      currentState: { kind: 'recording', write: async (views) => { stores.views.push([...views]); }, remove: async () => {}, get: async () => undefined, close: async () => {} },
      ...(snapshotIntervalMs !== undefined ? { snapshotIntervalMs } : {}),
    }, async (_p, next) => { stores.commits.push(next); });
    let offset = 0;
    const feed = async (devices: string[], ts: number) => {
      const records: LogRecord[] = devices.map((d) => ({ topic: 'telemetry.raw', partition: 0, offset: offset++, key: d, value: encodeMsgpack({ deviceId: d, ts, lat: 52.5, lon: 13.4 }), timestamp: Date.now() }));
      await shard.apply(records);
      await shard.settled();
      return offset;
    };
    return { stores, shard, checkpointer, feed, bus };
  }

  it('#11 while points flow a checkpoint writes positions and views but neither snapshots nor a commit; a quiet checkpoint then writes every vehicle changed since and commits', async () => {
    const { stores, shard, checkpointer, feed } = await setup(3_600_000);
    await feed(['a', 'b'], t0);
    // The first checkpoint of a shard counts as due (nothing was snapshotted yet).
    assert.equal(await checkpointer.checkpoint(shard), 'snapshotted');
    assert.deepEqual(stores.commits, [2]);
    await feed(['a'], t0 + 1000);
    assert.equal(await checkpointer.checkpoint(shard), 'written');
    const end = await feed(['c'], t0 + 2000);
    assert.equal(await checkpointer.checkpoint(shard), 'written');
    assert.equal(stores.positions.length, 4, 'every position written at its checkpoint');
    assert.deepEqual(stores.views.map((v) => v.map((x) => x.id).sort()), [[vid('a'), vid('b')], [vid('a')], [vid('c')]]);
    assert.equal(stores.saved.length, 1, 'no snapshots while points flow');
    assert.deepEqual(stores.commits, [2], 'no commit beyond what the snapshots cover');
    // Nothing applied since the last checkpoint: the partition is quiet.
    assert.equal(await checkpointer.checkpoint(shard), 'snapshotted');
    assert.deepEqual(stores.saved[1].map((s) => s.vehicleId).sort(), [vid('a'), vid('c')], 'every vehicle changed since the last snapshot write, and only those');
    assert.equal(stores.saved[1].find((s) => s.vehicleId === vid('a'))?.view.ts, t0 + 1000);
    assert.deepEqual(stores.commits, [2, end]);
    shard.close();
  });

  it('#11 a hand-off checkpoint writes the snapshots and commits at once, even while points flow', async () => {
    const { stores, shard, checkpointer, feed } = await setup(3_600_000);
    await feed(['a'], t0);
    await checkpointer.checkpoint(shard);
    const end = await feed(['a', 'b'], t0 + 1000);
    assert.equal(await checkpointer.checkpoint(shard, 'now'), 'snapshotted');
    assert.deepEqual(stores.saved.at(-1)?.map((s) => s.vehicleId).sort(), [vid('a'), vid('b')]);
    assert.equal(stores.commits.at(-1), end);
    shard.close();
  });

  it('#11 a failed checkpoint gives its vehicles back: the next snapshot write still holds them', async () => {
    const { stores, shard, checkpointer, feed } = await setup(3_600_000);
    await feed(['a'], t0);
    await checkpointer.checkpoint(shard);
    await feed(['b'], t0 + 1000);
    const save = stores.snapshots.save;
    stores.snapshots.save = async () => { throw new Error('down'); };
    assert.equal(await checkpointer.checkpoint(shard, 'now'), 'failed');
    stores.snapshots.save = save;
    const end = await feed(['c'], t0 + 2000);
    assert.equal(await checkpointer.checkpoint(shard, 'now'), 'snapshotted');
    assert.deepEqual(stores.saved.at(-1)?.map((s) => s.vehicleId).sort(), [vid('b'), vid('c')]);
    assert.equal(stores.commits.at(-1), end);
    shard.close();
  });

  it('#11 without an interval every checkpoint writes snapshots and commits (as before)', async () => {
    const { stores, shard, checkpointer, feed } = await setup(undefined);
    for (let i = 0; i < 3; i++) {
      const end = await feed(['a'], t0 + i * 1000);
      assert.equal(await checkpointer.checkpoint(shard), 'snapshotted');
      assert.equal(stores.commits.at(-1), end);
    }
    assert.equal(stores.saved.length, 3);
    shard.close();
  });

  it('#11 the output topics are published while the stores are written, and acknowledged before the commit', async () => {
    const { stores, shard, checkpointer, feed, bus } = await setup(undefined);
    const order: string[] = [];
    const publish = bus.publish.bind(bus);
    let acked!: () => void;
    const acks = new Promise<void>((resolve) => { acked = resolve; });
    const published: string[] = [];
    bus.publish = async (topic, records) => {
      order.push(`publish ${topic}`);
      await acks;
      await publish(topic, records);
      if (topic === Topics.vehicleUpdates) published.push(...records.map((r) => r.key));
      order.push(`acked ${topic}`);
    };
    stores.history.appendPositions = async (rows) => {
      order.push('positions');
      stores.positions.push(...rows);
      acked();
    };
    const inner = stores.snapshots.save.bind(stores.snapshots);
    stores.snapshots.save = async (p, e, snaps) => {
      order.push('snapshots');
      await inner(p, e, snaps);
    };
    const end = await feed(['a', 'b'], t0);
    assert.equal(await checkpointer.checkpoint(shard), 'snapshotted');
    assert.equal(order[0], `publish ${Topics.vehicleUpdates}`, 'the outputs leave before the positions are written');
    assert.ok(order.indexOf('positions') < order.indexOf(`acked ${Topics.vehicleUpdates}`), 'and are acknowledged after');
    assert.ok(order.includes(`acked ${Topics.vehicleUpdates}`));
    assert.deepEqual(stores.commits, [end]);
    assert.deepEqual(published.sort(), [vid('a'), vid('b')]);
    shard.close();
  });

  it('#11 a checkpoint whose outputs fail commits nothing, gives its vehicles back, and the next one publishes them', async () => {
    const { stores, shard, checkpointer, feed, bus } = await setup(undefined);
    const publish = bus.publish.bind(bus);
    bus.publish = async () => { throw new Error('brokers down'); };
    await feed(['a'], t0);
    assert.equal(await checkpointer.checkpoint(shard), 'failed');
    assert.match(checkpointer.lastFailure ?? '', /^outputs: brokers down/);
    assert.deepEqual(stores.commits, [], 'no commit past outputs that were not acknowledged');
    const published: string[] = [];
    bus.publish = async (topic, records) => {
      await publish(topic, records);
      if (topic === Topics.vehicleUpdates) published.push(...records.map((r) => r.key));
    };
    const end = await feed(['b'], t0 + 1000);
    assert.equal(await checkpointer.checkpoint(shard), 'snapshotted');
    assert.deepEqual(stores.commits, [end]);
    assert.deepEqual(published.sort(), [vid('a'), vid('b')], 'a (given back) and b published by the next checkpoint');
    shard.close();
  });

  it('#11 outputs that fail while the stores are still being written: the failure is handled once, at the checkpoint, never an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => { unhandled.push(reason); };
    process.on('unhandledRejection', onUnhandled);
    try {
      const { stores, shard, checkpointer, feed, bus } = await setup(undefined);
      let rejected = false;
      bus.publish = async () => { rejected = true; throw new Error('brokers down'); };
      // The history write finishes only after the outputs' rejection had time to be reported.
      let release: () => void = () => undefined;
      const held = new Promise<void>((r) => { release = r; });
      stores.history.appendPositions = async () => { await held; };
      await feed(['a'], t0);
      const outcome = checkpointer.checkpoint(shard);
      while (!rejected) await new Promise((r) => setImmediate(r));
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 10));
      release();
      assert.equal(await outcome, 'failed');
      assert.match(checkpointer.lastFailure ?? '', /^outputs: brokers down/);
      await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(unhandled.map(String), []);
      assert.deepEqual(stores.commits, []);
      shard.close();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('#11 the commit stage is timed only when a checkpoint committed an offset', async () => {
    const stages: string[] = [];
    const { stores, shard, checkpointer, feed } = await setup(undefined, { ...noMetrics, checkpointStage: (stage) => { stages.push(stage); } });
    const end = await feed(['a'], t0);
    assert.equal(await checkpointer.checkpoint(shard), 'snapshotted');
    assert.deepEqual(stores.commits, [end]);
    assert.equal(stages.filter((s) => s === 'commit').length, 1, 'timed when it committed');
    // Offsets already committed (as after a hand-off's checkpoint): snapshots, no commit.
    await feed(['b'], t0 + 1000);
    shard.committedOffset = end + 1;
    stages.length = 0;
    assert.equal(await checkpointer.checkpoint(shard, 'now'), 'snapshotted');
    assert.deepEqual(stores.commits, [end], 'nothing committed');
    assert.ok(stages.includes('snapshots'));
    assert.ok(!stages.includes('commit'), `stages ${stages.join(', ')}`);
    shard.close();
  });
});
