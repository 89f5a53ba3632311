import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import type { PartitionStatus, ShardMap, ShardMember } from '../../cluster/shard-map.js';

export interface GroupInspectorOptions {
  readonly brokers: readonly string[];
  readonly groupId: string;
  readonly topic: string;
}

function claimOf(metadata: Buffer): { nodeId?: string; weight?: number; url?: string } {
  try {
    const userData = AssignerProtocol.MemberMetadata.decode(metadata)?.userData;
    return JSON.parse(userData?.toString('utf8') ?? '{}') as { nodeId?: string; weight?: number; url?: string };
  } catch {
    return {};
  }
}

/** Reads the engine's consumer group from Kafka (admin API): members, assignment, offsets, lag. */
export async function inspectGroup(options: GroupInspectorOptions): Promise<ShardMap> {
  const kafka = new Kafka({ clientId: 'fleetline-cli', brokers: [...options.brokers], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(options.topic)) {
      throw new Error(`no topic ${options.topic} on ${options.brokers.join(',')}: no engine has run on this deployment (check KAFKA_TOPIC_PREFIX)`);
    }
    const { groups } = await admin.describeGroups([options.groupId]);
    const group = groups[0];
    const members: ShardMember[] = group.members.map((m) => {
      const claim = claimOf(m.memberMetadata);
      let partitions: number[] = [];
      try {
        partitions = [...(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[options.topic] ?? [])].sort((a, b) => a - b);
      } catch {
        // a member in the middle of a rebalance has no assignment yet
      }
      return { nodeId: claim.nodeId ?? m.memberId, weight: claim.weight ?? 1, memberId: m.memberId, host: m.clientHost, url: typeof claim.url === 'string' ? claim.url : null, partitions };
    });
    const owner = new Map<number, string>();
    for (const m of members) for (const p of m.partitions) owner.set(p, m.nodeId);
    const ends = await admin.fetchTopicOffsets(options.topic);
    const committed = await admin.fetchOffsets({ groupId: options.groupId, topics: [options.topic] });
    const committedOf = new Map<number, number>();
    for (const p of committed[0]?.partitions ?? []) if (Number(p.offset) >= 0) committedOf.set(p.partition, Number(p.offset));
    const partitions: PartitionStatus[] = ends.map((e) => {
      const end = Number(e.high);
      const c = committedOf.get(e.partition) ?? null;
      return { partition: e.partition, owner: owner.get(e.partition) ?? null, committed: c, end, lag: Math.max(0, end - (c ?? Number(e.low))) };
    }).sort((a, b) => a.partition - b.partition);
    return { groupId: options.groupId, state: group.state, members, partitions };
  } finally {
    await admin.disconnect();
  }
}
