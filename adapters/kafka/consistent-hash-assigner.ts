import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';
import type { Logger } from '../../actors/ports/logger.js';
import { assignPartitions, type MemberClaim } from '../../cluster/partition-assigner.js';

/** What this group member tells the leader on every join. */
export interface GroupMembership {
  /** Stable across restarts (NODE_ID); kafkajs member ids change on every join. */
  readonly nodeId: string;
  /** Relative capacity (0 = take no partitions: the node is being drained). */
  weight(): number;
  /** The partitions this member owns now, so the leader can keep them where they are. */
  owned(): readonly number[];
  /** Where operators reach the node (shown by `fleetline cluster status`, used by drain). */
  readonly url?: string;
}

/** The protocol name every member must announce; a member without it cannot join the group. */
export const ASSIGNER_NAME = 'FleetlineConsistentHash';
const VERSION = 1;

interface ClaimData {
  readonly nodeId: string;
  readonly weight: number;
  readonly owned: readonly number[];
  readonly url?: string;
}

function decodeClaim(memberId: string, metadata: Buffer, log: Logger): ClaimData {
  try {
    const { userData } = AssignerProtocol.MemberMetadata.decode(metadata) ?? {};
    const data = JSON.parse(userData?.toString('utf8') ?? '') as Partial<ClaimData>;
    if (typeof data.nodeId === 'string' && typeof data.weight === 'number' && data.weight >= 0 && Array.isArray(data.owned)) {
      return { nodeId: data.nodeId, weight: data.weight, owned: data.owned.filter((p) => Number.isInteger(p)) };
    }
  } catch {
    // fall through: a member whose claim cannot be read still gets a fair share
  }
  log.warn({ memberId }, 'group member sent no readable claim; it counts as a new node of weight 1');
  return { nodeId: memberId, weight: 1, owned: [] };
}

/**
 * A kafkajs partition assigner that maps partitions to members with Fleetline's sticky
 * consistent-hash assignment (cluster/partition-assigner.ts). Only the group leader runs
 * assign(); every member's protocol() carries its NODE_ID, weight and owned partitions in the
 * userData. Every subscribed topic with the same partition count gets the same map, so
 * partition p of telemetry.raw and of a co-partitioned topic live on the same node.
 *
 * Custom assigners belong to Kafka's classic group protocol: a KIP-848 ("consumer" protocol)
 * client runs the broker's assignor instead and would ignore this one.
 */
export function consistentHashAssigner(membership: GroupMembership, log: Logger): PartitionAssigner {
  return ({ cluster }) => ({
    name: ASSIGNER_NAME,
    version: VERSION,
    protocol({ topics }) {
      const claim: ClaimData = { nodeId: membership.nodeId, weight: membership.weight(), owned: membership.owned(), ...(membership.url ? { url: membership.url } : {}) };
      const userData = Buffer.from(JSON.stringify(claim));
      return { name: ASSIGNER_NAME, metadata: AssignerProtocol.MemberMetadata.encode({ version: VERSION, topics, userData }) };
    },
    async assign({ members, topics }) {
      const started = performance.now();
      // Two processes started with one NODE_ID would share a ring position: the first member id
      // in order takes the node's share, the others stay idle (and it is logged).
      const memberOfNode = new Map<string, string>();
      const claims: MemberClaim[] = [];
      for (const m of [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : 1))) {
        const claim = decodeClaim(m.memberId, m.memberMetadata, log);
        if (memberOfNode.has(claim.nodeId)) {
          log.error({ nodeId: claim.nodeId, memberId: m.memberId }, 'two group members use one NODE_ID; the second gets no partitions');
          continue;
        }
        memberOfNode.set(claim.nodeId, m.memberId);
        claims.push(claim);
      }
      const perMember = new Map<string, Record<string, number[]>>(members.map((m) => [m.memberId, {}]));
      const byCount = new Map<number, ReturnType<typeof assignPartitions>>();
      for (const topic of topics) {
        const count = cluster.findTopicPartitionMetadata(topic).length;
        let result = byCount.get(count);
        if (result === undefined) byCount.set(count, (result = assignPartitions(count, claims)));
        for (const [nodeId, partitions] of result.byNode) {
          const target = perMember.get(memberOfNode.get(nodeId) as string);
          if (target && partitions.length > 0) target[topic] = [...partitions];
        }
      }
      const moved = [...byCount.values()].reduce((s, r) => s + r.moved, 0);
      log.info({
        members: claims.map((c) => ({ nodeId: c.nodeId, weight: c.weight })), moved, ms: Math.round(performance.now() - started),
      }, 'partitions assigned (consistent hash, bounded loads)');
      return [...perMember].map(([memberId, assignment]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: VERSION, assignment, userData: Buffer.alloc(0) }),
      }));
    },
  });
}
