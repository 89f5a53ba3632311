/**
 * KafkaLog against a real Apache Kafka broker (scripts/services.sh up starts one on
 * 127.0.0.1:9092; KAFKA_BROKERS=host:port,... points elsewhere). Every test uses its own
 * topics (test.<random>.telemetry) and consumer groups, and deletes them at the end.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { pino } from 'pino';
import { KafkaLog, KafkaLogConsumer, reportsLag, type KafkaLogOptions } from '../../adapters/kafka/kafka-log.js';
import { partitionForKey } from '../../adapters/embedded/murmur2.js';
import type { LogRecord, RecordBatch } from '../../actors/ports/partitioned-log.js';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()).filter(Boolean);
const log = pino({ level: process.env.KAFKA_TEST_LOG_LEVEL ?? 'warn' }, pino.destination(2));
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));
const uid = () => randomBytes(5).toString('hex');
const topicName = () => `test.${uid()}.telemetry`;
const groupName = () => `test.${uid()}.group`;

let admin: Admin;
const topicsToDelete = new Set<string>();
const groupsToDelete = new Set<string>();

function newLog(extra: Partial<KafkaLogOptions> = {}): KafkaLog {
  return new KafkaLog({ brokers: BROKERS, clientId: `fleetline-test-${uid()}`, log, ...extra });
}

/** A log on a topic and group of their own (removed after the suite); the log is closed after `fn`. */
async function withLog<T>(extra: Partial<KafkaLogOptions>, fn: (t: { kafka: KafkaLog; topic: string; groupId: string }) => Promise<T>): Promise<T> {
  const kafka = newLog(extra);
  const topic = topicName();
  const groupId = groupName();
  topicsToDelete.add(topic);
  groupsToDelete.add(groupId);
  try {
    return await fn({ kafka, topic, groupId });
  } finally {
    await kafka.close();
  }
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Collects every delivered record; the optional hook runs inside onBatch. */
function collector(hook?: (batch: RecordBatch) => Promise<void>) {
  const records: LogRecord[] = [];
  const batches: RecordBatch[] = [];
  return {
    records,
    batches,
    onBatch: async (batch: RecordBatch) => {
      if (hook) await hook(batch);
      batches.push(batch);
      records.push(...batch.records);
    },
  };
}

before(async () => {
  const kafka = new Kafka({ clientId: 'fleetline-test-admin', brokers: BROKERS, logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
  } catch (e) {
    throw new Error(`no Kafka broker at ${BROKERS.join(',')} (${(e as Error).message}); start one with scripts/services.sh up`);
  }
});

after(async () => {
  if (!admin) return;
  if (groupsToDelete.size > 0) await admin.deleteGroups([...groupsToDelete]).catch(() => undefined);
  if (topicsToDelete.size > 0) await admin.deleteTopics({ topics: [...topicsToDelete] }).catch((e: Error) => log.warn({ err: e.message }, 'topic cleanup failed'));
  await admin.disconnect();
});

describe('KafkaLog on a real broker', { timeout: 120_000 }, () => {
  it('creates topics, routes keys with murmur2 and delivers each partition in order with its offsets', { timeout: 30_000 }, async () => {
    await withLog({}, async ({ kafka, topic, groupId }) => {
      await kafka.ensureTopics([{ name: topic, partitions: 4 }]);
      await kafka.ensureTopics([{ name: topic, partitions: 4 }]); // idempotent
      assert.equal(kafka.partitionsOf(topic), 4);
      assert.throws(() => kafka.partitionsOf(`${topic}.unknown`), /unknown topic/);

      const keys = Array.from({ length: 10 }, (_, i) => `dev-${i}`);
      const total = 200;
      for (let chunk = 0; chunk < 4; chunk++) {
        const records = [];
        for (let i = chunk * 50; i < (chunk + 1) * 50; i++) records.push({ key: keys[i % keys.length], value: enc(String(i)) });
        await kafka.publish(topic, records);
      }

      const events: string[] = [];
      const c = collector(async (b) => { events.push(`batch:${b.partition}`); });
      const consumer = await kafka.consume({
        groupId, topic, fromBeginning: true, onBatch: c.onBatch,
        listener: {
          onAssigned: async (t, ps) => { events.push(`assigned:${t}:${ps.join(',')}`); },
          onRevoked: async (t, ps) => { events.push(`revoked:${t}:${ps.join(',')}`); },
        },
      });
      await waitFor('200 records', () => c.records.length >= total);
      await sleep(300);
      assert.equal(c.records.length, total, 'no record delivered twice');
      assert.equal(events[0], `assigned:${topic}:0,1,2,3`, 'onAssigned before the first batch');

      const byPartition = new Map<number, LogRecord[]>();
      for (const r of c.records) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r]);
      for (const [partition, rs] of byPartition) {
        assert.deepEqual(rs.map((r) => r.offset), rs.map((_, i) => i), `partition ${partition}: offsets 0..n-1 in order`);
        for (const r of rs) {
          assert.equal(r.topic, topic);
          assert.equal(typeof r.timestamp, 'number');
          assert.ok(Math.abs(Date.now() - r.timestamp) < 60_000);
          assert.ok(r.value instanceof Uint8Array);
        }
      }
      for (const key of keys) {
        const rs = c.records.filter((r) => r.key === key);
        assert.equal(rs.length, total / keys.length);
        assert.deepEqual(new Set(rs.map((r) => r.partition)), new Set([partitionForKey(key, 4)]), `${key} on its murmur2 partition`);
        const values = rs.map((r) => Number(dec(r.value)));
        assert.deepEqual(values, [...values].sort((a, b) => a - b), `${key} in publish order`);
      }

      assert.ok(reportsLag(consumer));
      const lag = consumer.lag();
      assert.deepEqual([...lag.keys()].sort(), [...byPartition.keys()].sort());
      for (const v of lag.values()) assert.equal(v, 0);

      await consumer.stop();
      assert.equal(events.at(-1), `revoked:${topic}:0,1,2,3`, 'stop() revokes every owned partition');
    });
  });

  it('round-trips a tombstone (null value) on a compacted topic', { timeout: 30_000 }, async () => {
    await withLog({}, async ({ kafka, topic, groupId }) => {
      await kafka.ensureTopics([{ name: topic, partitions: 2, compacted: true }]);
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2 /* TOPIC */, name: topic, configNames: ['cleanup.policy'] }],
      });
      assert.equal(resources[0].configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue, 'compact');

      await kafka.publish(topic, [{ key: 'vehicle-7', value: enc('{"plate":"AB123"}') }]);
      await kafka.publish(topic, [{ key: 'vehicle-7', value: null }]);
      const c = collector();
      const consumer = await kafka.consume({ groupId, topic, fromBeginning: true, onBatch: c.onBatch });
      await waitFor('2 records', () => c.records.length >= 2);
      await consumer.stop();
      const [put, tombstone] = c.records;
      assert.equal(put.key, 'vehicle-7');
      assert.equal(dec(put.value), '{"plate":"AB123"}');
      assert.equal(tombstone.key, 'vehicle-7');
      assert.equal(tombstone.value, null);
      assert.equal(tombstone.partition, put.partition);
      assert.equal(tombstone.offset, put.offset + 1);
    });
  });

  it('#7.1 creates a topic with its retention as Kafka topic configs (retention.ms, retention.bytes)', { timeout: 30_000 }, async () => {
    await withLog({}, async ({ kafka, topic }) => {
      await kafka.ensureTopics([{ name: topic, partitions: 1, retention: { ms: 120_000, bytes: 1_048_576 } }]);
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2 /* TOPIC */, name: topic, configNames: ['retention.ms', 'retention.bytes'] }],
      });
      const config = Object.fromEntries(resources[0].configEntries.map((e) => [e.configName, e.configValue]));
      assert.deepEqual(config, { 'retention.ms': '120000', 'retention.bytes': '1048576' });
    });
  });

  it('resumes a group from its committed offset: committed records are not redelivered, uncommitted ones are', { timeout: 30_000 }, async () => {
    await withLog({}, async ({ kafka, topic, groupId }) => {
      await kafka.ensureTopics([{ name: topic, partitions: 1 }]);
      await kafka.publish(topic, Array.from({ length: 10 }, (_, i) => ({ key: 'dev-1', value: enc(String(i)) })));

      const first = collector();
      const a = await kafka.consume({ groupId, topic, fromBeginning: true, onBatch: first.onBatch });
      await waitFor('10 records', () => first.records.length >= 10);
      await a.commit(0, 6); // processed offsets 0..5
      await a.stop();
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
      assert.equal(committed[0].partitions[0].offset, '6');

      await kafka.publish(topic, [{ key: 'dev-1', value: enc('10') }, { key: 'dev-1', value: enc('11') }]);
      const second = collector();
      const b = await kafka.consume({ groupId, topic, fromBeginning: true, onBatch: second.onBatch });
      await waitFor('records 6..11', () => second.records.length >= 6);
      await sleep(300);
      await b.stop();
      assert.deepEqual(second.records.map((r) => r.offset), [6, 7, 8, 9, 10, 11]);
      assert.deepEqual(second.records.map((r) => dec(r.value)), ['6', '7', '8', '9', '10', '11']);
    });
  });

  it('redelivers a batch whose onBatch failed, from the same offset, without leaving the group', { timeout: 30_000 }, async () => {
    await withLog({}, async ({ kafka, topic, groupId }) => {
      await kafka.ensureTopics([{ name: topic, partitions: 1 }]);
      await kafka.publish(topic, [{ key: 'a', value: enc('1') }, { key: 'a', value: enc('2') }]);
      let calls = 0;
      const firstOffsets: number[] = [];
      const c = collector(async (b) => {
        calls += 1;
        firstOffsets.push(b.records[0].offset);
        if (calls === 1) throw new Error('snapshot store unavailable (simulated)');
      });
      const consumer = await kafka.consume({ groupId, topic, fromBeginning: true, onBatch: c.onBatch });
      await waitFor('redelivery', () => c.records.length >= 2);
      assert.deepEqual(firstOffsets.slice(0, 2), [0, 0]);
      assert.deepEqual(c.records.map((r) => r.offset), [0, 1]);
      assert.equal((consumer as KafkaLogConsumer).groupJoins, 1);
      await consumer.stop();
    });
  });

  it('pause() holds back delivery until resume()', { timeout: 30_000 }, async () => {
    await withLog({}, async ({ kafka, topic, groupId }) => {
      await kafka.ensureTopics([{ name: topic, partitions: 2 }]);
      const c = collector();
      const consumer = await kafka.consume({ groupId, topic, fromBeginning: true, onBatch: c.onBatch });
      await kafka.publish(topic, [{ key: 'a', value: enc('1') }]);
      await waitFor('first record', () => c.records.length === 1);
      consumer.pause();
      await kafka.publish(topic, [{ key: 'a', value: enc('2') }, { key: 'b', value: enc('3') }]);
      await sleep(1500);
      assert.equal(c.records.length, 1, 'nothing delivered while paused');
      consumer.resume();
      await waitFor('records after resume', () => c.records.length === 3, 5000);
      await consumer.stop();
    });
  });

  it('accepts records from a foreign producer (kcat) with their keys, on the murmur2 partition', { timeout: 30_000 }, async () => {
    const kcat = spawnSync('kcat', ['-V']);
    assert.equal(kcat.error, undefined, 'kcat is required (Debian package kcat; scripts/services.sh up installs it)');
    await withLog({}, async ({ kafka, topic, groupId }) => {
      await kafka.ensureTopics([{ name: topic, partitions: 4 }]);
      const c = collector();
      const consumer = await kafka.consume({ groupId, topic, fromBeginning: true, onBatch: c.onBatch });
      const lines = ['dev1', 'dev2', 'dev3'].map((d, i) => `${d}:${JSON.stringify({ deviceId: d, lat: 52.52 + i / 100, lon: 13.4, ts: 1_700_000_000_000 + i })}`);
      // librdkafka's default partitioner is CRC32-based ("consistent_random"); only
      // murmur2_random matches the Java client / kafkajs / embedded log partitioning.
      const producer = spawn('kcat', ['-P', '-b', BROKERS[0], '-t', topic, '-K:', '-X', 'topic.partitioner=murmur2_random'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      producer.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      producer.stdin.end(`${lines.join('\n')}\n`);
      const code = await new Promise<number | null>((resolve) => producer.on('close', resolve));
      assert.equal(code, 0, `kcat failed: ${stderr}`);

      await waitFor('3 records', () => c.records.length >= 3);
      await consumer.stop();
      for (const d of ['dev1', 'dev2', 'dev3']) {
        const r = c.records.find((x) => x.key === d);
        assert.ok(r, `${d} arrived`);
        assert.equal((JSON.parse(dec(r.value) ?? 'null') as { deviceId: string }).deviceId, d);
        assert.equal(r.partition, partitionForKey(d, 4), `${d} on its murmur2 partition`);
      }
    });
  });

  it('splits partitions between two members: onRevoked on the old owner, onAssigned on the new one, disjoint and complete', { timeout: 40_000 }, async () => {
    await withLog({ sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 }, async ({ kafka, topic, groupId }) => {
      await kafka.ensureTopics([{ name: topic, partitions: 4 }]);
      const calls: string[] = [];
      const owned = { a: new Set<number>(), b: new Set<number>() };
      const listenerFor = (name: 'a' | 'b', self: () => KafkaLogConsumer) => ({
        onAssigned: async (_t: string, ps: readonly number[]) => {
          calls.push(`${name}+${ps.join(',')}`);
          for (const p of ps) owned[name].add(p);
        },
        onRevoked: async (_t: string, ps: readonly number[]) => {
          calls.push(`${name}-${ps.join(',')}`);
          // A commit for a partition that already moved must not land (the new owner replays).
          for (const p of ps) await self().commit(p, 1);
          for (const p of ps) owned[name].delete(p);
        },
      });
      const ca = collector();
      const a: KafkaLogConsumer = (await kafka.consume({ groupId, topic, fromBeginning: true, onBatch: ca.onBatch, listener: listenerFor('a', () => a) })) as KafkaLogConsumer;
      assert.deepEqual([...owned.a].sort(), [0, 1, 2, 3]);

      const cb = collector();
      const b: KafkaLogConsumer = (await kafka.consume({ groupId, topic, fromBeginning: true, onBatch: cb.onBatch, listener: listenerFor('b', () => b) })) as KafkaLogConsumer;
      await waitFor('a to give up two partitions', () => owned.a.size === 2, 20_000);
      assert.equal(owned.b.size, 2);
      assert.deepEqual([...owned.a, ...owned.b].sort(), [0, 1, 2, 3], 'disjoint and complete');
      assert.deepEqual(a.assignment(), [...owned.a].sort());
      assert.deepEqual(b.assignment(), [...owned.b].sort());

      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const { partition, offset } of offsets[0].partitions) assert.equal(offset, '-1', `no commit landed for partition ${partition}`);

      // Each member gets exactly the records of its partitions.
      const keys = Array.from({ length: 40 }, (_, i) => `veh-${i}`);
      await kafka.publish(topic, keys.map((k) => ({ key: k, value: enc(k) })));
      await waitFor('40 records across both members', () => ca.records.length + cb.records.length >= 40, 15_000);
      for (const r of ca.records) assert.ok(owned.a.has(r.partition));
      for (const r of cb.records) assert.ok(owned.b.has(r.partition));

      // A commit of an owned partition does land.
      const mine = a.assignment()[0];
      await a.commit(mine, 1);
      const after = await admin.fetchOffsets({ groupId, topics: [topic] });
      assert.equal(after[0].partitions.find((p) => p.partition === mine)?.offset, '1');

      await b.stop();
      await waitFor('a to own everything again', () => owned.a.size === 4, 20_000);
      await a.stop();
      assert.equal(calls[0], 'a+0,1,2,3');
    });
  });

  describe('a batch that outlives the session timeout', { concurrency: true }, () => {
    const slowBatch = async (heartbeats: boolean) => {
      return withLog({ sessionTimeoutMs: 6000, heartbeatIntervalMs: 1000 }, async ({ kafka, topic, groupId }) => {
        await kafka.ensureTopics([{ name: topic, partitions: 1 }]);
        await kafka.publish(topic, [{ key: 'slow', value: enc('first') }]);
        const revoked: number[][] = [];
        let slowDone = false;
        const c = collector(async (b) => {
          if (slowDone) return;
          slowDone = true;
          for (let s = 0; s < 9; s++) {
            await sleep(1000);
            if (heartbeats) await b.heartbeat();
          }
        });
        const consumer = (await kafka.consume({
          groupId, topic, fromBeginning: true, onBatch: c.onBatch,
          listener: { onAssigned: async () => undefined, onRevoked: async (_t, ps) => { revoked.push([...ps]); } },
        })) as KafkaLogConsumer;
        await waitFor('the slow batch', () => c.records.length >= 1, 20_000);
        await kafka.publish(topic, [{ key: 'slow', value: enc('second') }]);
        await waitFor('the next batch', () => c.records.some((r) => dec(r.value) === 'second'), 20_000);
        const joins = consumer.groupJoins;
        const assignment = consumer.assignment();
        await consumer.stop();
        return { joins, assignment, revoked, records: c.records };
      });
    };

    it('keeps its group membership when it calls heartbeat() (9 s batch, 6 s session)', { timeout: 40_000 }, async () => {
      const r = await slowBatch(true);
      assert.equal(r.joins, 1, 'no re-join: the member never left the group');
      assert.deepEqual(r.assignment, [0]);
      assert.deepEqual(r.revoked, [[0]], 'only the final stop() revoked the partition');
      assert.deepEqual(r.records.map((x) => dec(x.value)), ['first', 'second'], 'same consumer got the next batch, nothing redelivered');
    });

    it('(control) loses it without heartbeats, and kafkajs re-joins', { timeout: 40_000 }, async () => {
      const r = await slowBatch(false);
      assert.ok(r.joins >= 2, `expected a re-join after the session expired, got ${r.joins} join(s)`);
    });
  });
});

describe('#11 KafkaLog produce requests: lanes and partition counts', { timeout: 60_000 }, () => {
  /** Records per partition of `topic` (high watermarks). */
  const stored = async (topic: string): Promise<number[]> =>
    (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition).map((p) => Number(p.high));

  it('#11 the checkpoints\' outputs and the intake have produce requests of their own: a failed vehicle.updates publish does not fail an intake publish of the same turn', { timeout: 40_000 }, async () => {
    await withLog({}, async ({ kafka, topic }) => {
      const updates = `test.${uid()}.vehicle.updates`;
      topicsToDelete.add(updates);
      await kafka.ensureTopics([{ name: topic, partitions: 2 }, { name: updates, partitions: 1 }]);
      // Larger than the broker takes (message.max.bytes, 1 MiB by default): MESSAGE_TOO_LARGE
      // for that topic-partition fails the request that holds it.
      const outputs = kafka.publish(updates, [{ key: 'veh-1', value: randomBytes(1_500_000) }]);
      const intake = kafka.publish(topic, [{ key: 'dev-1', value: enc('point') }]);
      const [o, i] = await Promise.allSettled([outputs, intake]);
      assert.equal(o.status, 'rejected', 'the outputs publish fails');
      assert.equal(i.status, 'fulfilled', `the intake publish is acknowledged (${i.status === 'rejected' ? String(i.reason) : ''})`);
      assert.deepEqual(await stored(topic), [0, 1].map((p) => (p === partitionForKey('dev-1', 2) ? 1 : 0)));
    });
  });

  it('#11 a record for a partition the producer does not know fails its publish (kafkajs would leave it out and resolve)', { timeout: 30_000 }, async () => {
    await withLog({}, async ({ kafka, topic }) => {
      await kafka.ensureTopics([{ name: topic, partitions: 1 }]);
      await assert.rejects(kafka.publish(topic, [{ key: 'veh-1', value: enc('view'), partition: 7 }]), { code: 'KAFKA_PARTITION_UNKNOWN' });
      assert.deepEqual(await stored(topic), [0]);
    });
  });

  it('#11 keyed records follow partitions added to a topic (read again once partitionRefreshMs old); partitionsOf keeps the count the node started with', { timeout: 40_000 }, async () => {
    await withLog({ partitionRefreshMs: 1_000 }, async ({ kafka, topic }) => {
      await kafka.ensureTopics([{ name: topic, partitions: 1 }]);
      const keys = Array.from({ length: 20 }, (_, i) => ({ key: `dev-${i}`, value: enc(String(i)) }));
      await kafka.publish(topic, keys);
      await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] });
      const deadline = Date.now() + 20_000;
      // The new partitions' leaders take a moment to be known (NOT_LEADER meanwhile).
      const storedSoFar = () => stored(topic).catch(() => [] as number[]);
      let counts = await storedSoFar();
      while (counts.length < 4 || counts.slice(1).every((n) => n === 0)) {
        if (Date.now() > deadline) throw new Error(`records never reached the new partitions: ${counts.join(', ')}`);
        await kafka.publish(topic, keys);
        await sleep(100);
        counts = await storedSoFar();
      }
      const perPartition = [0, 0, 0, 0];
      for (const { key } of keys) perPartition[partitionForKey(key, 4)]++;
      // The last publish was routed by 4 partitions: each new partition got exactly its keys' share.
      assert.deepEqual(counts.slice(1), perPartition.slice(1), 'the new partitions hold the keys murmur2 gives them, once');
      assert.equal(kafka.partitionsOf(topic), 1);
    });
  });
});
