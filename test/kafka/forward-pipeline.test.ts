/**
 * PartitionShard's forwards pipelined through the ProduceAccumulator into a real Kafka topic
 * (127.0.0.1:9092 or KAFKA_BROKERS): many forwards in flight at once, produce requests refused
 * on purpose, and what the broker holds afterwards. Topics of its own (test.<random>.*), deleted
 * at the end.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CompressionTypes, Kafka, Partitioners, logLevel, type Admin, type Producer, type TopicMessages } from 'kafkajs';
import { start as startActorSystem, stop as stopActor, type Ref } from 'nact';
import { DeliveryHub } from '../../actors/delivery-hub.js';
import { FleetDirectory } from '../../actors/fleet-directory.js';
import { PartitionShard, type ForwardedPoints } from '../../actors/partition-shard.js';
import { SpatialStateIndex } from '../../actors/spatial-state-index.js';
import { noMetrics } from '../../actors/ports/engine-metrics.js';
import { silentLogger } from '../../actors/ports/logger.js';
import type { LogRecord } from '../../actors/ports/partitioned-log.js';
import { decodeRecordValue, encodeMsgpack } from '../../adapters/codec/msgpack-codec.js';
import { ProduceAccumulator } from '../../adapters/kafka/produce-accumulator.js';
import { registerKafkaCodecs } from '../../adapters/kafka/kafka-codecs.js';
import { createTopicsWithLeaders } from '../../adapters/kafka/topic-creation.js';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()).filter(Boolean);
const uid = () => randomBytes(5).toString('hex');
const kafka = new Kafka({ clientId: `fleetline-test-${uid()}`, brokers: BROKERS, logLevel: logLevel.NOTHING, retry: { retries: 2 } });
const DEVICES = 20;
const BATCHES = 60;

let admin: Admin;
let producer: Producer;
let system: Ref<unknown>;
const topics: string[] = [];

/** Every record of `topic` (one partition): its points' timestamps per vehicle, in log order. */
async function readBack(topic: string, expected: number): Promise<Map<string, number[]>> {
  const byVehicle = new Map<string, number[]>();
  let seen = 0;
  const consumer = kafka.consumer({ groupId: `test.${uid()}.read`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const points = decodeRecordValue(new Uint8Array(message.value!)) as { ts: number }[];
        const key = String(message.key);
        byVehicle.set(key, [...(byVehicle.get(key) ?? []), ...points.map((p) => p.ts)]);
        seen += points.length;
      },
    });
    const deadline = Date.now() + 30_000;
    while (seen < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await consumer.disconnect();
  }
  return byVehicle;
}

before(async () => {
  registerKafkaCodecs();
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, maxInFlightRequests: 1, idempotent: false });
  await producer.connect();
  system = startActorSystem();
});
after(async () => {
  stopActor(system);
  await producer?.disconnect();
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin?.disconnect();
});

describe('#11 forwards are pipelined: many in flight, each device\'s points in order, retried in order', { timeout: 120_000 }, () => {
  it('#11 forwards of many batches leave without waiting for each other; refused requests are sent again; every point is stored once per success, each vehicle\'s in order; the applied offset waits for the acks', async () => {
    const topic = `test.${uid()}.by-vehicle`;
    await createTopicsWithLeaders(admin, [{ topic, numPartitions: 1, replicationFactor: 1 }]);
    topics.push(topic);
    let requests = 0;
    let inFlightMax = 0;
    let inFlight = 0;
    // Requests 1, 2 and 4 are refused: what they held, and what was queued behind them, is sent again.
    const refused = new Set([1, 2, 4]);
    const accumulator = new ProduceAccumulator(async (topicMessages: TopicMessages[]) => {
      const n = requests++;
      if (refused.has(n)) throw new Error(`request ${n} refused`);
      await producer.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.None });
    }, 500, Number.POSITIVE_INFINITY, true);
    const forward = async (list: readonly ForwardedPoints[]): Promise<void> => {
      inFlightMax = Math.max(inFlightMax, ++inFlight);
      try {
        await accumulator.publish(topic, list.map((f) => ({ key: f.vehicleId, value: Buffer.from(encodeMsgpack(f.points)), partition: 0 })));
      } finally {
        inFlight--;
      }
    };
    const vehicles = Array.from({ length: DEVICES }, (_, i) => ({ id: `v${i}`, companyId: 'A' }));
    const directory = new FleetDirectory({
      companies: [{ id: 'A', name: 'A', active: true }],
      vehicles,
      devices: vehicles.map((v, i) => ({ deviceId: `d${i}`, vehicleId: v.id })),
    }, { accept: false, limit: 0 });
    // Every vehicle lives in partition 1: every point read in partition 0 is forwarded.
    const shard = new PartitionShard(0, 1, {
      system, directory, index: new SpatialStateIndex(), hub: new DeliveryHub(), metrics: noMetrics, logger: silentLogger, decodeRecord: decodeRecordValue,
      vehiclePartition: () => 1, forward,
    });
    const t0 = Date.now() - 600_000;
    let offset = 0;
    for (let b = 0; b < BATCHES; b++) {
      const records: LogRecord[] = Array.from({ length: DEVICES }, (_, d) => ({
        topic: 'telemetry.raw', partition: 0, offset: offset++, key: `d${d}`, value: encodeMsgpack({ deviceId: `d${d}`, ts: t0 + b * 1000, lat: 52 + b / 1000, lon: 13.4 }), timestamp: Date.now(),
      }));
      await shard.apply(records);
      // Batches arrive a turn apart, as a consumer's fetches do: several of them in one request, several requests.
      if (b % 5 === 4) await new Promise((r) => setImmediate(r));
    }
    assert.ok(shard.appliedOffset < offset, 'the applied offset waits for the forwards to be acknowledged');
    const deadline = Date.now() + 60_000;
    while (shard.appliedOffset < offset && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(shard.appliedOffset, offset, 'every batch is applied once its forwards are stored');
    assert.ok(inFlightMax > 1, `forwards were in flight together (at most ${inFlightMax})`);
    assert.ok(requests > Math.max(...refused), `the refused requests were followed by others (${requests} requests)`);

    const stored = await readBack(topic, DEVICES * BATCHES);
    const want = Array.from({ length: BATCHES }, (_, b) => t0 + b * 1000);
    for (let d = 0; d < DEVICES; d++) assert.deepEqual(stored.get(`v${d}`), want, `v${d}'s points stored once each, in order`);
    shard.close();
  });
});
