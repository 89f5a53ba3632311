import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { DeliveryHub } from '../actors/delivery-hub.js';
import { FleetReplica } from '../actors/fleet-replica.js';
import type { FleetDirectory } from '../actors/fleet-directory.js';
import { LiveOutbox } from '../actors/live-updates.js';
import type { EngineMetrics } from '../actors/ports/engine-metrics.js';
import { Topics, type LogConsumer, type PartitionedLog } from '../actors/ports/partitioned-log.js';
import type { SnapshotStore } from '../actors/ports/snapshot-store.js';
import type { StateIndex } from '../actors/ports/state-index.js';
import { decodeRecordValue, encodeMsgpack } from '../adapters/codec/msgpack-codec.js';
import type { Config } from './config.js';

export interface FleetReplication {
  /** Where this node's shards publish every change (for the other nodes). */
  readonly live: LiveOutbox;
  /** Follows the other nodes' changes from now on (before this node restores its partitions). */
  follow(owns: (partition: number) => boolean): Promise<void>;
  /**
   * Fills the index with every vehicle of the partitions this node does not hold, from the
   * durable snapshots (after its own are restored: a change older than the follow is in them
   * by then, a newer one arrives on vehicle.live).
   */
  fill(): Promise<void>;
  stop(): Promise<void>;
}

interface ReplicationDeps {
  readonly config: Config;
  readonly bus: PartitionedLog;
  readonly durableSnapshots: SnapshotStore;
  readonly directory: FleetDirectory;
  readonly index: StateIndex;
  readonly hub: DeliveryHub;
  readonly metrics: EngineMetrics;
  readonly log: Logger;
}

/**
 * Cross-node delivery on Kafka: each node publishes its vehicles' changes to vehicle.live as
 * they happen (LiveOutbox) and keeps every other node's vehicles in its own index
 * (FleetReplica), so any node serves the whole fleet its clients' tokens grant. The replica
 * reads vehicle.live from its end in a consumer group of its own (every node reads every
 * partition), after filling itself from the durable snapshots.
 */
export function fleetReplication(deps: ReplicationDeps): FleetReplication {
  const { config, bus, log } = deps;
  const live = new LiveOutbox(bus, encodeMsgpack, log, config.liveFlushMs);
  let consumer: LogConsumer | null = null;
  let replica: FleetReplica | null = null;
  return {
    live,
    async follow(owns) {
      live.start();
      const r = new FleetReplica({ index: deps.index, hub: deps.hub, metrics: deps.metrics, logger: log, decodeRecord: decodeRecordValue, owns });
      replica = r;
      consumer = await bus.consume({
        // One group per node process: every node reads every partition; nothing is committed.
        groupId: `fleetline-replica.${config.nodeId}.${randomUUID()}`,
        topic: Topics.vehicleLive,
        fromBeginning: false,
        onBatch: async (b) => r.applyRecords(b.records),
      });
    },
    async fill() {
      if (replica === null) return;
      const started = performance.now();
      const filled = await replica.fill(deps.durableSnapshots, bus.partitionsOf(Topics.telemetryRaw), (company) => company === null || deps.directory.isActive(company));
      log.info({ vehicles: filled, ms: Math.round(performance.now() - started) }, 'fleet replica filled from the durable snapshots');
    },
    async stop() {
      await consumer?.stop();
      await live.stop();
    },
  };
}
