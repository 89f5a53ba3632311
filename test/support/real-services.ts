import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { migrate } from '../../adapters/postgres/migrate.js';
import { createTestDatabase, type TestDatabase } from '../postgres/pg-test-db.js';
import { TEST_DOMAIN_SETTINGS } from './engine.js';
import { createTestRedis, TEST_REDIS_URL, type TestRedis } from '../redis/redis-test-prefix.js';

export const TEST_KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';

/**
 * A deployment of its own on the shared real servers: a PostgreSQL database, a Redis key
 * prefix and a Kafka topic prefix, all removed by cleanup().
 */
export interface RealDeployment {
  readonly db: TestDatabase;
  readonly redis: TestRedis;
  readonly topicPrefix: string;
  /** Environment for an engine node of this deployment. */
  readonly env: Record<string, string>;
  topic(name: string): string;
  cleanup(): Promise<void>;
}

export async function createRealDeployment(partitions = 4): Promise<RealDeployment> {
  const db = await createTestDatabase();
  const redis = await createTestRedis();
  const topicPrefix = `test.${randomBytes(5).toString('hex')}.`;
  return {
    db, redis, topicPrefix,
    env: {
      KAFKA_BROKERS: TEST_KAFKA_BROKERS, KAFKA_TOPIC_PREFIX: topicPrefix, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: redis.prefix,
      DATABASE_URL: db.url, TELEMETRY_PARTITIONS: String(partitions), DOMAIN_SETTINGS: TEST_DOMAIN_SETTINGS,
    },
    topic: (name) => topicPrefix + name,
    async cleanup() {
      await deleteTestTopics(topicPrefix);
      await redis.cleanup();
      await db.drop();
    },
  };
}

/** Seeds the reference tables of a deployment's database (the back office's job in production). */
export async function seedReference(db: TestDatabase, companies: { id: string; active?: boolean }[], vehicles: { id: string; companyId: string; deviceId: string }[]): Promise<void> {
  await migrate(db.pool);
  for (const c of companies) await db.pool.query('INSERT INTO companies (id, name, active) VALUES ($1, $1, $2)', [c.id, c.active ?? true]);
  for (const v of vehicles) {
    await db.pool.query('INSERT INTO vehicles (id, company_id, name) VALUES ($1, $2, $1)', [v.id, v.companyId]);
    await db.pool.query('INSERT INTO device_bindings (device_id, vehicle_id) VALUES ($1, $2)', [v.deviceId, v.id]);
  }
}

/**
 * Produces lines `key<TAB>value` to a topic with kcat, a producer that is not the engine
 * (murmur2 like Java clients), in one of Kafka's codecs (kcat -z) when `compression` is given.
 */
export async function kcatProduce(topic: string, lines: string[], compression?: 'gzip' | 'snappy' | 'lz4' | 'zstd'): Promise<void> {
  const { spawn } = await import('node:child_process');
  const codec = compression ? ['-z', compression] : [];
  await new Promise<void>((resolve, reject) => {
    const p = spawn('kcat', ['-P', '-b', TEST_KAFKA_BROKERS, '-t', topic, '-K', '\t', '-X', 'topic.partitioner=murmur2_random', ...codec], { stdio: ['pipe', 'inherit', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat exited ${code}: ${err}`))));
    p.stdin.end(lines.join('\n') + '\n');
  });
}

/** Reads a topic from the beginning to its end with kcat (a consumer that is not kafkajs): `key<TAB>value` lines. */
export async function kcatConsume(topic: string): Promise<string[]> {
  const { execFile } = await import('node:child_process');
  const out = await new Promise<string>((resolve, reject) => {
    execFile('kcat', ['-C', '-b', TEST_KAFKA_BROKERS, '-t', topic, '-e', '-q', '-f', '%k\t%s\n'], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kcat failed: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
  return out.split('\n').filter((l) => l.length > 0);
}

/** Deletes every Kafka topic whose name starts with `prefix` (a test's own topics). */
export async function deleteTestTopics(prefix: string): Promise<void> {
  const kafka = new Kafka({ brokers: TEST_KAFKA_BROKERS.split(','), clientId: 'fleetline-test-cleanup', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}
