/**
 * The consistent-hash assigner in a real consumer group (real broker, scripts/services.sh up):
 * members announce their NODE_ID and owned partitions, the leader keeps partitions where they
 * are and moves only the new member's share, or the departed member's partitions.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { pino } from 'pino';
import { KafkaLog } from '../../adapters/kafka/kafka-log.js';
import type { LogConsumer } from '../../actors/ports/partitioned-log.js';
import type { KafkaLogConsumer } from '../../adapters/kafka/kafka-log-consumer.js';
import { createTopicsWithLeaders } from '../../adapters/kafka/topic-creation.js';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()).filter(Boolean);
const log = pino({ level: process.env.KAFKA_TEST_LOG_LEVEL ?? 'error' }, pino.destination(2));
const uid = () => randomBytes(5).toString('hex');
const PARTITIONS = 12;

let admin: Admin;
const topic = `test.${uid()}.telemetry`;
const groupId = `test.${uid()}.group`;

interface Member {
  readonly nodeId: string;
  readonly kafka: KafkaLog;
  readonly consumer: KafkaLogConsumer;
}

async function join(nodeId: string): Promise<Member> {
  const kafka = new KafkaLog({ brokers: BROKERS, clientId: `fleetline-test-${nodeId}`, log, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 300, maxWaitTimeMs: 100 });
  const consumer: LogConsumer = await kafka.consume({
    groupId, topic, fromBeginning: true, onBatch: async () => {}, member: { nodeId, weight: () => 1 },
  });
  return { nodeId, kafka, consumer: consumer as KafkaLogConsumer };
}

/** Waits until the members together own every partition exactly once, each its fair share. */
async function settled(members: readonly Member[], timeoutMs = 60_000): Promise<Map<number, string>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const owner = new Map<number, string>();
    let twice = false;
    for (const m of members) for (const p of m.consumer.assignment()) {
      if (owner.has(p)) twice = true;
      owner.set(p, m.nodeId);
    }
    const fair = members.every((m) => Math.abs(m.consumer.assignment().length - PARTITIONS / members.length) < 1);
    if (!twice && owner.size === PARTITIONS && fair) return owner;
    if (Date.now() > deadline) throw new Error(`group did not settle: ${members.map((m) => `${m.nodeId}=${m.consumer.assignment().join(',')}`).join(' ')}`);
    await sleep(100);
  }
}

function moves(before: Map<number, string>, after: Map<number, string>): { total: number; betweenStaying: number } {
  const wereMembers = new Set(before.values());
  const areMembers = new Set(after.values());
  let total = 0;
  let betweenStaying = 0;
  for (const [p, o] of after) {
    const was = before.get(p) as string;
    if (was === o) continue;
    total++;
    if (areMembers.has(was) && wereMembers.has(o)) betweenStaying++;
  }
  return { total, betweenStaying };
}

before(async () => {
  admin = new Kafka({ clientId: 'fleetline-test-admin', brokers: BROKERS, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await createTopicsWithLeaders(admin, [{ topic, numPartitions: PARTITIONS }]);
});

after(async () => {
  await admin.deleteGroups([groupId]).catch(() => undefined);
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

describe('consistent-hash assignment in a real consumer group', { timeout: 240_000 }, () => {
  it('three members share 12 partitions; a fourth takes only its share from the others; a leaving member\'s partitions go to the rest, nothing else moves', async () => {
    const members: Member[] = [];
    try {
      for (const id of ['node-a', 'node-b', 'node-c']) members.push(await join(id));
      const three = await settled(members);

      members.push(await join('node-d'));
      const four = await settled(members);
      const grown = moves(three, four);
      assert.equal(grown.total, PARTITIONS / 4, 'only the new member\'s share moved');
      assert.equal(grown.betweenStaying, 0, 'no partition moved between members that stayed');
      assert.ok([...four.entries()].filter(([, o]) => o === 'node-d').every(([p]) => three.has(p)));

      const leaving = members.splice(1, 1)[0];
      const held = leaving.consumer.assignment();
      await leaving.kafka.close();
      const shrunk = await settled(members);
      const after = moves(four, shrunk);
      assert.equal(after.total, held.length, 'only the departed member\'s partitions moved');
      for (const [p, o] of four) if (o !== leaving.nodeId) assert.equal(shrunk.get(p), o, `partition ${p} stayed with ${o}`);
      console.log(`# 3 → 4 members: ${grown.total} of ${PARTITIONS} partitions moved (ideal ${PARTITIONS / 4}); 4 → 3: ${after.total} moved (ideal ${held.length})`);
    } finally {
      for (const m of members) await m.kafka.close().catch(() => undefined);
    }
  });
});
