import { createHash } from 'node:crypto';
import ConsistentHash from 'consistent-hash';

/** A node as the ring sees it: its stable id (NODE_ID, never a Kafka member id) and weight. */
export interface RingNode {
  readonly nodeId: string;
  /** Relative capacity; 0 takes no partitions (a node being drained). */
  readonly weight: number;
}

/** Control-point range: prime, wide enough that 100 nodes of weight 10 rarely collide. */
const RING_RANGE = 1_000_003;
/**
 * Control points per unit of weight. More points bring each node's share of the ring closer
 * to its weight (the property test measures how close) at the cost of a longer ring walk.
 */
export const POINTS_PER_WEIGHT = 100;

function hash32(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/**
 * The consistent-hash ring over the nodes of a cluster. `consistent-hash` places control points
 * with Math.random unless told where: here every point is a hash of the node's stable id, and
 * nodes are added in id order (a point two nodes share goes to the later one), so every
 * process that builds the ring from the same nodes gets the same ring.
 */
export class PartitionRing {
  private readonly ring = new ConsistentHash({ range: RING_RANGE });
  readonly nodeIds: readonly string[];

  constructor(nodes: readonly RingNode[]) {
    const placed = nodes.filter((n) => n.weight > 0).sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
    for (const n of placed) {
      const count = Math.max(1, Math.round(POINTS_PER_WEIGHT * n.weight));
      const points = Array.from({ length: count }, (_, k) => hash32(`${n.nodeId}#${k}`) % RING_RANGE);
      this.ring.add(n.nodeId, count, points);
    }
    this.nodeIds = placed.map((n) => n.nodeId);
  }

  /** Every node of the ring, the one that owns `partition` first, then the next ones clockwise. */
  preference(partition: number): string[] {
    if (this.nodeIds.length === 0) return [];
    // The package hashes names with a 24-bit PJW hash that clusters on correlated inputs such
    // as "p1", "p2": hand it well-mixed hex instead.
    const name = hash32(`partition:${partition}`).toString(16).padStart(8, '0');
    return this.ring.get(name, this.nodeIds.length) ?? [];
  }

  /** The node that owns `partition` on the bare ring (no load bound). */
  owner(partition: number): string | undefined {
    return this.preference(partition)[0];
  }
}
