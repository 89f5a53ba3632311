import { PartitionRing, type RingNode } from './partition-ring.js';

/** What a group member tells the assigner: its stable id, weight and the partitions it owns now. */
export interface MemberClaim extends RingNode {
  readonly owned: readonly number[];
}

export interface PartitionAssignment {
  /** nodeId → partitions, ascending; every member appears, possibly with none. */
  readonly byNode: ReadonlyMap<string, readonly number[]>;
  /** Partitions whose owner changed (a partition nobody owned before is not a move). */
  readonly moved: number;
  /** nodeId → the most partitions it may hold: ⌈P·w/W⌉. */
  readonly capacity: ReadonlyMap<string, number>;
}

const byId = (a: RingNode, b: RingNode) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0);

/**
 * Consistent hashing with bounded loads, made sticky.
 *
 * 1. Capacity: no node holds more than ⌈P·w/W⌉ partitions, and each should hold at least
 *    ⌊P·w/W⌋ (its fair share, rounded down).
 * 2. Keep: a partition stays with the member that owns it now, up to that member's capacity;
 *    a member over capacity keeps the partitions the ring ranks it highest for.
 * 3. Place: every partition left over goes to the first node in its ring order that is below
 *    its fair share, else below its capacity.
 * 4. Balance: a node still below its fair share takes, from nodes above theirs, the partitions
 *    the ring ranks it highest for. Only this step moves a partition between two nodes that both
 *    stay, and only because balance requires it.
 *
 * The result is a pure function of the claims (their order does not matter), so the group
 * leader of any generation, in any process, computes the same map; the same membership with
 * the same claims moves nothing.
 */
export function assignPartitions(partitions: number, claims: readonly MemberClaim[]): PartitionAssignment {
  const members = [...claims].sort(byId);
  // Weight 0 everywhere would orphan every partition: then all count as equal.
  const totalWeight = members.reduce((s, m) => s + m.weight, 0);
  const nodes: RingNode[] = totalWeight > 0 ? members : members.map((m) => ({ nodeId: m.nodeId, weight: 1 }));
  const W = nodes.reduce((s, n) => s + n.weight, 0);
  const capacity = new Map<string, number>();
  const fair = new Map<string, number>();
  for (const n of nodes) {
    const share = W > 0 ? (partitions * n.weight) / W : 0;
    capacity.set(n.nodeId, Math.ceil(share - 1e-9));
    fair.set(n.nodeId, Math.floor(share + 1e-9));
  }
  const ring = new PartitionRing(nodes);
  const prefCache = new Map<number, string[]>();
  const pref = (p: number) => {
    let list = prefCache.get(p);
    if (list === undefined) prefCache.set(p, (list = ring.preference(p)));
    return list;
  };
  const rank = (p: number, nodeId: string) => {
    const i = pref(p).indexOf(nodeId);
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };

  // Who owns each partition now; two claimants (stale userData) are settled by the ring.
  const previous = new Map<number, string>();
  for (const m of members) {
    for (const p of m.owned) {
      if (!Number.isInteger(p) || p < 0 || p >= partitions) continue;
      const other = previous.get(p);
      if (other === undefined || rank(p, m.nodeId) < rank(p, other)) previous.set(p, m.nodeId);
    }
  }

  const owner = new Map<number, string>();
  const load = new Map<string, number>(nodes.map((n) => [n.nodeId, 0]));
  const take = (p: number, nodeId: string) => {
    const before = owner.get(p);
    if (before !== undefined) load.set(before, (load.get(before) ?? 0) - 1);
    owner.set(p, nodeId);
    load.set(nodeId, (load.get(nodeId) ?? 0) + 1);
  };

  // 2. Keep.
  const claimsOf = new Map<string, number[]>();
  for (const [p, nodeId] of previous) {
    let list = claimsOf.get(nodeId);
    if (list === undefined) claimsOf.set(nodeId, (list = []));
    list.push(p);
  }
  for (const [nodeId, owned] of claimsOf) {
    owned.sort((a, b) => rank(a, nodeId) - rank(b, nodeId) || a - b);
    for (const p of owned.slice(0, capacity.get(nodeId) ?? 0)) take(p, nodeId);
  }

  // 3. Place.
  const below = (limit: Map<string, number>) => (nodeId: string) => (load.get(nodeId) ?? 0) < (limit.get(nodeId) ?? 0);
  for (let p = 0; p < partitions; p++) {
    if (owner.has(p)) continue;
    const list = pref(p);
    const target = list.find(below(fair)) ?? list.find(below(capacity));
    if (target !== undefined) take(p, target);
  }

  // 4. Balance.
  for (const n of nodes) {
    while ((load.get(n.nodeId) ?? 0) < (fair.get(n.nodeId) ?? 0)) {
      let best: number | undefined;
      for (const [p, current] of owner) {
        if (current === n.nodeId || (load.get(current) ?? 0) <= (fair.get(current) ?? 0)) continue;
        if (best === undefined || rank(p, n.nodeId) < rank(best, n.nodeId) || (rank(p, n.nodeId) === rank(best, n.nodeId) && p < best)) best = p;
      }
      if (best === undefined) break;
      take(best, n.nodeId);
    }
  }

  const byNode = new Map<string, number[]>(members.map((m) => [m.nodeId, []]));
  let moved = 0;
  for (const [p, nodeId] of owner) {
    byNode.get(nodeId)?.push(p);
    const before = previous.get(p);
    if (before !== undefined && before !== nodeId) moved++;
  }
  for (const list of byNode.values()) list.sort((a, b) => a - b);
  return { byNode, moved, capacity };
}
