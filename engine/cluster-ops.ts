import type { Logger } from 'pino';
import type { GroupMember } from '../actors/ports/partitioned-log.js';
import type { ShardSupervisor } from '../actors/shard-supervisor.js';
import type { ShardMap } from '../cluster/shard-map.js';

/** What an operator can ask of one node of a cluster (admin HTTP routes, `npx fleetline cluster`). */
export interface ClusterOps {
  readonly nodeId: string;
  /** This node as the consumer group sees it (its weight is read at every join). */
  readonly member: GroupMember;
  /** Sets this node's weight and has the group assign the partitions again. */
  setWeight(weight: number): Promise<void>;
  rebalance(): Promise<void>;
  /** Hands every partition off (weight 0, rebalance), then stops the node. */
  drain(): Promise<void>;
  /** Resolves once a drain finished (the process may exit then); never otherwise. */
  readonly drained: Promise<void>;
  shardMap(): Promise<ShardMap>;
  locate(vehicleId: string): Promise<VehicleLocation>;
}

interface ClusterOpsDeps {
  readonly nodeId: string;
  readonly weight: number;
  readonly url: string;
  /** The node's supervisor (built after this: it needs `member`). */
  readonly supervisor: () => ShardSupervisor;
  readonly shardMap: () => Promise<ShardMap>;
  /** Stops the node (graceful: last checkpoint, sockets closed with a code). */
  readonly close: () => Promise<void>;
  readonly log: Logger;
  /** Told how long each rebalance this node asked for took (a metric). */
  readonly rebalanced?: (seconds: number) => void;
  /** The partition of telemetry.raw a device's points go to. */
  readonly partitionOf: (deviceId: string) => number;
  /** The partition a vehicle's actor lives in (its devices' points are forwarded there). */
  readonly vehiclePartition: (vehicleId: string) => number;
  /** The devices bound to a vehicle (an unbound device's vehicle: its device). */
  readonly devicesOf: (vehicleId: string) => string[];
}

/**
 * Where a vehicle's actor lives (its partition and that partition's node), and where each of its
 * devices' points arrive (a device in another partition has them forwarded).
 */
export interface VehicleLocation {
  readonly vehicleId: string;
  readonly partition: number;
  readonly node: string | null;
  readonly devices: readonly { readonly deviceId: string; readonly partition: number; readonly node: string | null }[];
}

export function clusterOps(deps: ClusterOpsDeps): ClusterOps {
  const { nodeId, log } = deps;
  let weight = deps.weight;
  let draining: Promise<void> | null = null;
  let markDrained: () => void = () => {};
  const drained = new Promise<void>((resolve) => { markDrained = resolve; });
  /** Never rejects: a failed re-join is logged (the consumer's own restart takes it from there). */
  const rebalance = async (why: string): Promise<void> => {
    const supervisor = deps.supervisor();
    const started = performance.now();
    const before = new Set(supervisor.health.partitions);
    try {
      await supervisor.rebalance();
      const after = supervisor.health.partitions;
      const seconds = (performance.now() - started) / 1000;
      deps.rebalanced?.(seconds);
      log.info({
        why, weight, partitionsBefore: before.size, partitionsAfter: after.length,
        arrived: after.filter((p) => !before.has(p)).length, left: [...before].filter((p) => !after.includes(p)).length, ms: Math.round(seconds * 1000),
      }, 'rebalance done');
    } catch (e) {
      log.error({ why, err: (e as Error).message }, 'rebalance failed');
    }
  };
  return {
    nodeId,
    member: { nodeId, weight: () => weight, url: deps.url },
    drained,
    async setWeight(w) {
      weight = w;
      await rebalance('weight');
    },
    rebalance: () => rebalance('asked'),
    shardMap: deps.shardMap,
    async locate(vehicleId) {
      const owner = new Map<number, string>();
      for (const p of (await deps.shardMap()).partitions) if (p.owner !== null) owner.set(p.partition, p.owner);
      const partition = deps.vehiclePartition(vehicleId);
      return {
        vehicleId,
        partition,
        node: owner.get(partition) ?? null,
        devices: deps.devicesOf(vehicleId).map((deviceId) => {
          const partition = deps.partitionOf(deviceId);
          return { deviceId, partition, node: owner.get(partition) ?? null };
        }),
      };
    },
    drain() {
      draining ??= (async () => {
        const started = performance.now();
        log.info({ partitions: deps.supervisor().health.partitions.length }, 'draining: handing every partition off');
        const others = (await deps.shardMap().catch(() => ({ members: [] }))).members.filter((m) => m.nodeId !== nodeId && m.weight > 0);
        weight = 0;
        // Alone (or with weight-0 nodes only) the group would hand the partitions straight back:
        // they wait in the log for the next node instead.
        if (others.length > 0) await rebalance('drain');
        else log.warn({}, 'draining the only node with weight: its partitions wait for the next node');
        await deps.close();
        log.info({ ms: Math.round(performance.now() - started) }, 'drained');
        markDrained();
      })();
      return draining;
    },
  };
}
