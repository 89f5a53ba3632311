/**
 * `npm run bench:baseline`: the sustained intake of the baseline pipeline's processor on this
 * machine, against the real Kafka and Redis. BENCH_POINTS points of BENCH_DEVICES devices are
 * pre-produced to its telemetry.raw (not measured); then the processor starts in a process of
 * its own (as deployed) and drains them. The rate is updates acknowledged on vehicle.updates
 * per second (each one a point read, looked up, derived, written back to Redis and published),
 * from the first update to the last; the steady rate leaves out the first and last 10 %.
 * Numbers, not assertions. Topics (prefix bench.baseline.<random>.) and Redis keys (prefix
 * bench:baseline:<random>:) are removed afterwards.
 *
 * Environment (all optional):
 *   BENCH_POINTS       points (default 300000)
 *   BENCH_DEVICES      devices, one vehicle each, spread over 10 companies (default 10000)
 *   TELEMETRY_PARTITIONS   partitions of both topics (default 24, Fleetline's default)
 *   PROCESSOR_CONCURRENCY  batches in flight in the processor (default 4)
 *   KAFKA_COMPRESSION  codec of the processor's publishes (default gzip, Fleetline's default)
 *   BENCH_TIMEOUT_S    longest wait for the drain (default 600)
 *   BENCH_CPU_PROF     a directory: the processor runs with --cpu-prof into it
 *   KAFKA_BROKERS (127.0.0.1:9092), REDIS_URL (redis://127.0.0.1:6379)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, Partitioners, logLevel, type Admin } from 'kafkajs';
import { Redis } from 'ioredis';
import { encodeMsgpack } from '../../adapters/codec/msgpack-codec.js';
import { createTopicsWithLeaders } from '../../adapters/kafka/topic-creation.js';

const POINTS = Number(process.env.BENCH_POINTS ?? 300_000);
const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
const PARTITIONS = process.env.TELEMETRY_PARTITIONS ?? '24';
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_S ?? 600) * 1000;
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomBytes(4).toString('hex');
const topicPrefix = `bench.baseline.${run}.`;
const redisPrefix = `bench:baseline:${run}:`;

function fleetFile(): string {
  const companies = Array.from({ length: 10 }, (_, i) => ({ id: `c${i}`, name: `Company ${i}`, active: true }));
  const vehicles = Array.from({ length: DEVICES }, (_, i) => ({ id: `v${i}`, companyId: `c${i % 10}`, name: `Vehicle ${i}`, speedLimit: 90 }));
  const devices = vehicles.map((v, i) => ({ deviceId: `d${i}`, vehicleId: v.id }));
  const dir = mkdtempSync(join(tmpdir(), 'baseline-bench-'));
  const file = join(dir, 'fleet.json');
  writeFileSync(file, JSON.stringify({ companies, vehicles, devices }));
  return file;
}

async function preload(kafka: Kafka): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsWithLeaders(admin, ['telemetry.raw', 'vehicle.updates'].map((t) => ({ topic: topicPrefix + t, numPartitions: Number(PARTITIONS), replicationFactor: 1 })));
  await admin.disconnect();
  const rounds = Math.ceil(POINTS / DEVICES);
  const t0 = Date.now() - rounds * 5_000 - 60_000;
  let sent = 0;
  let batch: { key: string; value: Buffer }[] = [];
  for (let r = 0; r < rounds && sent < POINTS; r++) {
    for (let d = 0; d < DEVICES && sent < POINTS; d++, sent++) {
      // Each device drives north-east along its own line, about 14 m per 5 s (about 10 km/h).
      const lat = 40 + (d % 100) * 0.1 + r * 0.0001;
      const lon = -3 + Math.floor(d / 100) * 0.1 + r * 0.0001;
      const point = { deviceId: `d${d}`, ts: t0 + r * 5_000, lat, lon, ...(r % 3 === 0 ? { speed: 40 + (d % 80) } : {}), ignition: true };
      batch.push({ key: point.deviceId, value: Buffer.from(encodeMsgpack(point)) });
      if (batch.length === 5000) {
        await producer.send({ topic: `${topicPrefix}telemetry.raw`, messages: batch });
        batch = [];
      }
    }
  }
  if (batch.length > 0) await producer.send({ topic: `${topicPrefix}telemetry.raw`, messages: batch });
  await producer.disconnect();
}

async function produced(admin: Admin): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(`${topicPrefix}vehicle.updates`);
  return offsets.reduce((sum, o) => sum + Number(o.high), 0);
}

async function cleanup(kafka: Kafka): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(topicPrefix));
  if (topics.length > 0) await admin.deleteTopics({ topics });
  await admin.disconnect();
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
}

async function main(): Promise<void> {
  const kafka = new Kafka({ brokers: BROKERS.split(','), clientId: 'baseline-bench', logLevel: logLevel.NOTHING });
  const file = fleetFile();
  console.log(`baseline bench: ${POINTS} points of ${DEVICES} devices, ${PARTITIONS} partitions; preloading telemetry.raw …`);
  await preload(kafka);
  const processorMain = fileURLToPath(new URL('./processor.ts', import.meta.url));
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', processorMain], {
    stdio: 'inherit',
    env: { ...process.env, KAFKA_BROKERS: BROKERS, KAFKA_TOPIC_PREFIX: topicPrefix, REDIS_URL, REDIS_PREFIX: redisPrefix, FLEET_FILE: file,
      TELEMETRY_PARTITIONS: PARTITIONS, JWT_SECRET: process.env.JWT_SECRET ?? 'baseline-bench-secret-0123456789', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
  });
  const stopChild = (): void => { if (child.exitCode === null) child.kill('SIGTERM'); };
  process.once('SIGINT', stopChild);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const samples: { t: number; n: number }[] = [];
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`processor exited with ${child.exitCode}`);
      const n = await produced(admin);
      samples.push({ t: performance.now(), n });
      if (n >= POINTS) break;
      if (Date.now() > deadline) throw new Error(`timed out with ${n} of ${POINTS} updates`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const first = samples.find((s) => s.n > 0)!;
    const last = samples[samples.length - 1];
    const at = (fraction: number) => samples.find((s) => s.n >= POINTS * fraction)!;
    const lo = at(0.1);
    const hi = at(0.9);
    const overall = (last.n - first.n) / ((last.t - first.t) / 1000);
    const steady = (hi.n - lo.n) / ((hi.t - lo.t) / 1000);
    const result = {
      bench: 'baseline-intake', points: POINTS, devices: DEVICES, partitions: Number(PARTITIONS),
      concurrency: Number(process.env.PROCESSOR_CONCURRENCY ?? 4), compression: process.env.KAFKA_COMPRESSION ?? 'gzip',
      pointsPerSecond: Math.round(overall), steadyPointsPerSecond: Math.round(steady),
      cpus: cpus().length, loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
    };
    console.log(`baseline processor intake: ${result.pointsPerSecond} points/s end to end into vehicle.updates (steady 10–90 %: ${result.steadyPointsPerSecond} points/s)`);
    console.log(JSON.stringify(result));
  } finally {
    await admin.disconnect();
    stopChild();
    await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
    await cleanup(kafka);
  }
}

await main();
