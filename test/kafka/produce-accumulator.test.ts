/**
 * ProduceAccumulator against a real Apache Kafka broker (127.0.0.1:9092 or KAFKA_BROKERS): what
 * leaves in which produce request, and what the broker holds afterwards. Topics of its own
 * (test.<random>.*), deleted at the end.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CompressionTypes, Kafka, Partitioners, logLevel, type Admin, type Producer, type TopicMessages } from 'kafkajs';
import { ProduceAccumulator, type PartitionedMessage } from '../../adapters/kafka/produce-accumulator.js';
import { partitionForKey } from '../../adapters/embedded/murmur2.js';
import { registerKafkaCodecs } from '../../adapters/kafka/kafka-codecs.js';
import { createTopicsWithLeaders } from '../../adapters/kafka/topic-creation.js';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()).filter(Boolean);
const uid = () => randomBytes(5).toString('hex');
const kafka = new Kafka({ clientId: `fleetline-test-${uid()}`, brokers: BROKERS, logLevel: logLevel.NOTHING, retry: { retries: 2 } });

let admin: Admin;
let producer: Producer;
const topics: string[] = [];

/** Every produce request the accumulator sent: per topic, its messages' values. */
type Request = Map<string, string[]>;

function accumulator(limit: number, fail: (n: number) => boolean = () => false, perRequest?: number): { acc: ProduceAccumulator; requests: Request[] } {
  const requests: Request[] = [];
  const acc = new ProduceAccumulator(async (topicMessages: TopicMessages[]) => {
    const n = requests.length;
    requests.push(new Map(topicMessages.map((t) => [t.topic, t.messages.map((m) => String(m.value))])));
    if (fail(n)) throw new Error(`request ${n} refused`);
    await producer.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.LZ4 });
  }, limit, perRequest);
  return { acc, requests };
}

/** A record on the partition Kafka's default partitioner gives its key. */
const message = (key: string, value: string, partitions: number): PartitionedMessage => ({ key, value, partition: partitionForKey(key, partitions) });

async function newTopics(n: number, partitions: number): Promise<string[]> {
  const names = Array.from({ length: n }, () => `test.${uid()}.out`);
  await createTopicsWithLeaders(admin, names.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })));
  topics.push(...names);
  return names;
}

/** Every record of `topic`, per key, in partition order. */
async function readBack(topic: string, expected: number): Promise<Map<string, string[]>> {
  const byKey = new Map<string, string[]>();
  let seen = 0;
  const consumer = kafka.consumer({ groupId: `test.${uid()}.read`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const key = String(message.key);
        byKey.set(key, [...(byKey.get(key) ?? []), String(message.value)]);
        seen++;
      },
    });
    const deadline = Date.now() + 20_000;
    while (seen < expected && Date.now() < deadline) await sleep(50);
    await sleep(200);
  } finally {
    await consumer.disconnect();
  }
  return byKey;
}

before(async () => {
  registerKafkaCodecs();
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false, maxInFlightRequests: 1 });
  await producer.connect();
});

after(async () => {
  await producer?.disconnect();
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin?.disconnect();
});

describe('#11 ProduceAccumulator: publishes share produce requests', { timeout: 90_000 }, () => {
  it('#11 publishes of one turn leave in one request, every topic in it; those made while it is in flight leave together in the next; each key keeps its order', async () => {
    const [updates, events] = await newTopics(2, 3);
    const { acc, requests } = accumulator(1000);
    const publish = (topic: string, from: number, n: number) =>
      acc.publish(topic, Array.from({ length: n }, (_, i) => message(`veh-${(from + i) % 5}`, String(from + i), 3)));
    // Four "checkpoints" in one turn, each with both topics: one request.
    const first = [0, 10, 20, 30].flatMap((from) => [publish(updates, from, 10), publish(events, from, 2)]);
    // While it is in flight (the next turn), four more: together in the second.
    await new Promise((r) => setImmediate(r));
    const second = [40, 50, 60, 70].map((from) => publish(updates, from, 10));
    await Promise.all([...first, ...second]);
    assert.equal(requests.length, 2, 'two requests for twelve publishes');
    assert.deepEqual([...requests[0].keys()].sort(), [events, updates].sort(), 'both topics in the first request');
    assert.equal(requests[0].get(updates)?.length, 40);
    assert.equal(requests[1].get(updates)?.length, 40);

    const stored = await readBack(updates, 80);
    for (let k = 0; k < 5; k++) {
      const want = Array.from({ length: 80 }, (_, i) => i).filter((i) => i % 5 === k).map(String);
      assert.deepEqual(stored.get(`veh-${k}`), want, `veh-${k}'s records in publish order, each once`);
    }
  });

  it('#11 a publish with more records for one partition than a request may hold is split, in order, and resolves once every part is acknowledged', async () => {
    const [topic] = await newTopics(1, 2);
    const { acc, requests } = accumulator(10);
    await acc.publish(topic, Array.from({ length: 25 }, (_, i) => message('veh-1', String(i), 2)));
    assert.deepEqual(requests.map((r) => r.get(topic)?.length), [10, 10, 5]);
    const stored = await readBack(topic, 25);
    assert.deepEqual(stored.get('veh-1'), Array.from({ length: 25 }, (_, i) => String(i)));
  });

  it('#11 failBehind: a failed request rejects every publish it held, those queued behind it (unsent) and those made in the same turn; publishes made after go', async () => {
    const [topic] = await newTopics(1, 1);
    const requests: string[][] = [];
    const acc = new ProduceAccumulator(async (topicMessages: TopicMessages[]) => {
      const n = requests.length;
      requests.push(topicMessages.flatMap((t) => t.messages.map((m) => String(m.value))));
      if (n === 0) {
        await sleep(100);
        throw new Error('request 0 refused');
      }
      await producer.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.LZ4 });
    }, 1000, Number.POSITIVE_INFINITY, true);
    const a = acc.publish(topic, [message('k', 'a', 1)]);
    const b = acc.publish(topic, [message('k', 'b', 1)]);
    const refused = [assert.rejects(a, /request 0 refused/), assert.rejects(b, /request 0 refused/)];
    // b's rejection arrives in a turn where a publish (made before its publisher could know)
    // must not overtake a and b, which their publisher sends again.
    refused.push(assert.rejects(b.catch(() => acc.publish(topic, [message('k', 'd', 1)])), /not sent: an earlier produce request failed/));
    await sleep(20);
    // Queued while request 0 is in flight: not sent once it failed.
    refused.push(assert.rejects(acc.publish(topic, [message('k', 'c', 1)]), /not sent: an earlier produce request failed/));
    await Promise.all(refused);
    await new Promise((r) => setImmediate(r));
    await acc.publish(topic, [message('k', 'e', 1)]);
    await acc.drained();
    assert.deepEqual(requests, [['a', 'b'], ['e']]);
    assert.deepEqual((await readBack(topic, 1)).get('k'), ['e']);
  });

  it('#11 records spread over partitions share a request up to the limit of each partition', async () => {
    const [topic] = await newTopics(1, 4);
    const { acc, requests } = accumulator(10);
    // 40 keys over 4 partitions: no partition gets more than 10 of them in one request.
    const records = Array.from({ length: 40 }, (_, i) => message(`veh-${i}`, String(i), 4));
    const counts = new Map<number, number>();
    for (const r of records) counts.set(r.partition, (counts.get(r.partition) ?? 0) + 1);
    await acc.publish(topic, records);
    assert.equal(requests.length, Math.ceil(Math.max(...counts.values()) / 10), 'as many requests as the fullest partition needs');
    assert.equal(requests.reduce((n, r) => n + (r.get(topic)?.length ?? 0), 0), 40);
  });

  it('#11 a publish whose request failed: its queued chunks are dropped, not sent after the failure; a retry leaves its key in order', async () => {
    const [topic] = await newTopics(1, 1);
    const { acc, requests } = accumulator(2, (n) => n === 0);
    const events = ['e1', 'e2', 'e3', 'e4'].map((v) => message('V', v, 1));
    await assert.rejects(acc.publish(topic, events), /request 0 refused/);
    await acc.drained();
    assert.equal(requests.length, 1, 'e3, e4 (the second chunk) never sent');
    // What a checkpoint does next: publish everything again.
    await acc.publish(topic, events);
    assert.deepEqual((await readBack(topic, 4)).get('V'), ['e1', 'e2', 'e3', 'e4'], 'V reads e1..e4 once, in order');
  });

  it('#11 a failed publish settles only once none of its chunks is in flight; other publishes queued behind it still go', async () => {
    const [topic] = await newTopics(1, 1);
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => { release = r; });
    const requests: string[][] = [];
    const inFlight = new Set<number>();
    // Request 0 (a, first chunk of b) is held; request 1 (b's second chunk) fails.
    const acc = new ProduceAccumulator(async (topicMessages) => {
      const n = requests.length;
      requests.push(topicMessages.flatMap((t) => t.messages.map((m) => String(m.value))));
      inFlight.add(n);
      try {
        if (n === 0) await held;
        if (n === 1) throw new Error('request 1 refused');
        await producer.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.LZ4 });
      } finally {
        inFlight.delete(n);
      }
    }, 1);
    const a = acc.publish(topic, [message('A', 'a1', 1)]);
    await new Promise((r) => setImmediate(r));
    const b = acc.publish(topic, [message('B', 'b1', 1), message('B', 'b2', 1), message('B', 'b3', 1)]);
    const c = acc.publish(topic, [message('C', 'c1', 1)]);
    let bSettled = false;
    const bOutcome = b.then(() => 'resolved', (e: Error) => e.message).finally(() => { bSettled = true; });
    release();
    assert.equal(await bOutcome, 'request 1 refused');
    assert.equal(inFlight.size, 0, 'nothing in flight when the failed publish settles');
    assert.ok(bSettled);
    await Promise.all([a, c]);
    await acc.drained();
    assert.deepEqual(requests, [['a1'], ['b1'], ['c1']], 'b2 and b3 dropped; c, queued behind them, sent');
    const stored = await readBack(topic, 2);
    assert.deepEqual([stored.get('A'), stored.get('B'), stored.get('C')], [['a1'], undefined, ['c1']]);
  });

  it('#11 a request holds at most perRequest records, every topic and partition together', async () => {
    const [updates, events] = await newTopics(2, 4);
    const { acc, requests } = accumulator(1000, () => false, 30);
    const publish = (topic: string, n: number) => acc.publish(topic, Array.from({ length: n }, (_, i) => message(`veh-${i}`, String(i), 4)));
    await Promise.all([publish(updates, 25), publish(events, 25), publish(updates, 40)]);
    const sizes = requests.map((r) => [...r.values()].reduce((n, v) => n + v.length, 0));
    assert.ok(sizes.every((n) => n <= 30), `request sizes ${sizes.join(', ')}`);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 90);
    assert.deepEqual((await readBack(updates, 65)).get('veh-3'), ['3', '3']);
  });
});
