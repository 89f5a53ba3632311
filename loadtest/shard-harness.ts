import type { Ref } from 'nact';
import { start as startActorSystem, stop as stopActor } from 'nact';
import { DeliveryHub } from '../actors/delivery-hub.js';
import { FleetDirectory } from '../actors/fleet-directory.js';
import { PartitionShard } from '../actors/partition-shard.js';
import { SpatialStateIndex } from '../actors/spatial-state-index.js';
import { noMetrics } from '../actors/ports/engine-metrics.js';
import { silentLogger } from '../actors/ports/logger.js';
import type { LogRecord } from '../actors/ports/partitioned-log.js';
import type { TelemetryPoint } from '../actors/domain/telemetry-point.js';
import { decodeRecordValue, encodeMsgpack } from '../adapters/codec/msgpack-codec.js';

/**
 * The partition shards of a node without its bus, HTTP or stores, driven directly by the
 * benchmarks: every device is unbound (its own admin-only vehicle), nothing is logged.
 */
export class ShardHarness {
  readonly shards: PartitionShard[];
  private readonly system: Ref<unknown>;
  private readonly offsets: number[];

  /** One shard per epoch, partition = position in `epochs`. */
  constructor(epochs: readonly number[]) {
    this.system = startActorSystem();
    const index = new SpatialStateIndex();
    const directory = new FleetDirectory({ companies: [], vehicles: [], devices: [] }, { accept: true, limit: Number.POSITIVE_INFINITY });
    this.shards = epochs.map((epoch, p) => new PartitionShard(p, epoch, {
      system: this.system, directory, index, hub: new DeliveryHub(), metrics: noMetrics, decodeRecord: decodeRecordValue, logger: silentLogger,
    }));
    this.offsets = epochs.map(() => 0);
  }

  /** Vehicles resident in all shards. */
  get size(): number {
    return this.shards.reduce((n, s) => n + s.size, 0);
  }

  /** Applies `points[i]` on partition `partitionOf(i)` and waits until every actor is done. */
  async drive(points: readonly TelemetryPoint[], partitionOf: (i: number) => number): Promise<void> {
    const perShard: LogRecord[][] = this.shards.map(() => []);
    const now = Date.now();
    for (let i = 0; i < points.length; i++) {
      const p = partitionOf(i);
      perShard[p].push({ topic: 'telemetry.raw', partition: p, offset: this.offsets[p]++, key: points[i].deviceId, value: encodeMsgpack(points[i]), timestamp: now });
    }
    await Promise.all(this.shards.map((s, p) => s.apply(perShard[p])));
    await Promise.all(this.shards.map((s) => s.settled()));
  }

  stop(): void {
    stopActor(this.system);
  }
}
