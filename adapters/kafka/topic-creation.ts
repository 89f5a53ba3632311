import type { Admin, ITopicConfig } from 'kafkajs';

/**
 * Creates topics and resolves once every partition of them has a leader (producible).
 * kafkajs's own `waitForLeaders` retries only LEADER_NOT_AVAILABLE; a loaded broker may answer
 * UNKNOWN_TOPIC_OR_PARTITION ("This server does not host this topic-partition") for a topic it
 * has just created, before its metadata cache has it: that answer is waited out here.
 * Resolves false when every topic already existed (another creator won), as kafkajs does.
 */
export async function createTopicsWithLeaders(admin: Admin, topics: readonly ITopicConfig[], timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let created = false;
  try {
    created = await admin.createTopics({ topics: [...topics], waitForLeaders: true, timeout: timeoutMs });
  } catch (e) {
    if ((e as { type?: unknown }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw e;
    created = true;
  }
  await leadersOf(admin, topics.map((t) => t.topic), deadline);
  return created;
}

/** Resolves once every partition of `topics` has a leader; throws the last error at `deadline`. */
async function leadersOf(admin: Admin, topics: readonly string[], deadline: number): Promise<void> {
  for (;;) {
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...topics] });
      if (metadata.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
      if (Date.now() > deadline) throw new Error(`kafka: no leaders for ${topics.join(', ')} yet`);
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
