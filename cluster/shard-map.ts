/**
 * The cluster as an operator sees it: members with their weights and partitions, and each
 * partition's owner and lag. Built from the consumer group's own description (what every member
 * announced when it joined, and what the leader assigned), so it needs no engine to answer.
 */
export interface ShardMember {
  readonly nodeId: string;
  readonly weight: number;
  readonly memberId: string;
  readonly host: string;
  /** The node's HTTP API as it announced it (null when it announced none). */
  readonly url: string | null;
  readonly partitions: readonly number[];
}

export interface PartitionStatus {
  readonly partition: number;
  readonly owner: string | null;
  /** Next offset to read as committed by the group (null: nothing committed yet). */
  readonly committed: number | null;
  readonly end: number;
  readonly lag: number;
}

export interface ShardMap {
  readonly groupId: string;
  readonly state: string;
  readonly members: readonly ShardMember[];
  readonly partitions: readonly PartitionStatus[];
}

/** The partition → node map and the members as plain text columns. */
export function formatShardMap(map: ShardMap): string {
  const lines = [`group ${map.groupId} (${map.state}), ${map.members.length} member(s), ${map.partitions.length} partitions`, ''];
  lines.push('NODE                      WEIGHT  PARTITIONS  LAG     HOST');
  const lagOf = new Map(map.partitions.map((p) => [p.partition, p.lag]));
  for (const m of [...map.members].sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1))) {
    const lag = m.partitions.reduce((s, p) => s + (lagOf.get(p) ?? 0), 0);
    lines.push(`${m.nodeId.padEnd(26)}${String(m.weight).padEnd(8)}${String(m.partitions.length).padEnd(12)}${String(lag).padEnd(8)}${m.host}`);
  }
  lines.push('', 'PARTITION  OWNER                     COMMITTED   END         LAG');
  for (const p of map.partitions) {
    lines.push(`${String(p.partition).padEnd(11)}${(p.owner ?? '-').padEnd(26)}${String(p.committed ?? '-').padEnd(12)}${String(p.end).padEnd(12)}${p.lag}`);
  }
  return lines.join('\n');
}
