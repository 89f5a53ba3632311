import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { createPgPool } from '../../adapters/postgres/pg-pool.js';
import { migrate } from '../../adapters/postgres/migrate.js';
import { demoFleet } from '../../engine/simulator/demo-fleet.js';
import { BENCH_REDIS_URL, createBenchDatabase, dropBenchDatabase, removeRedisPrefix } from '../bench-stores.js';
import { ChildNodeProcess } from './child-process.js';
import { LaunchedEngine } from './engine-launcher.js';
import { HandledCounter } from './kafka-progress.js';
import { ENGINE_NODE_FLAGS } from '../../engine/node-flags.js';

/**
 * The two systems a comparison drives, each on topics, consumer groups, Redis keys (and for
 * Fleetline a PostgreSQL database) of its own, removed by clean().
 */
export interface ComparedSystem {
  readonly system: 'fleetline' | 'baseline';
  readonly topicPrefix: string;
  readonly redisPrefix: string;
  /** Its PostgreSQL database, if it has one. */
  readonly database: string | null;
  /** The topic the devices send to (Kafka transport). */
  readonly rawTopic: string;
  /** The consumer group that works telemetry.raw off (its committed offsets measure intake). */
  readonly groupId: string;
  /** Other topics that group consumes, which a drain waits for too. */
  readonly alsoTopics: readonly string[];
  /** Where clients connect (`/v1/stream`); empty until started. */
  readonly url: string;
  /** /metrics endpoints of every process of the system (scraped beside `url`'s). */
  readonly metricsUrls: readonly string[];
  /** Its counters of points applied and rejected (null until started). */
  handled(): HandledCounter | null;
  /**
   * Records still queued in it: in telemetry.raw and not yet handled, and for the baseline also
   * the updates its fanout has not consumed. A live run starts when this is down (a previous run
   * that overloaded it must not leave its backlog to the next).
   */
  queued(): Promise<number>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Removes its topics, consumer groups, Redis keys and database (after stop()). */
  clean(): Promise<void>;
  /** The last log lines of its processes, to say why it failed. */
  logTail(): string;
}

export interface SystemSetup {
  devices: number;
  jwtSecret: string;
  kafkaBrokers: readonly string[];
  partitions: number;
  redisUrl?: string;
  /** Extra environment (Fleetline: --node-env). */
  env?: Record<string, string>;
}

const id = (): string => randomBytes(4).toString('hex');

/** Runs every step, even after one failed; throws what failed, together. */
async function everyStep(what: string, steps: (() => Promise<unknown>)[]): Promise<void> {
  const failed = (await Promise.allSettled(steps.map((s) => s()))).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0) throw new Error(`${what}: ${failed.map((f) => (f.reason as Error).message).join('; ')}`);
}

async function removeTopicsAndGroups(brokers: readonly string[], prefix: string): Promise<void> {
  const admin = new Kafka({ clientId: 'fleetline-loadtest-cleanup', brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}

/** Records of `topic` the groups named `group*` have not committed, summed (0 without such a group). */
async function groupsBehind(brokers: readonly string[], groupPrefix: string, topic: string): Promise<number> {
  const admin = new Kafka({ clientId: 'fleetline-loadtest-queued', brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(groupPrefix));
    if (groups.length === 0) return 0;
    const ends = await admin.fetchTopicOffsets(topic);
    let behind = 0;
    for (const groupId of groups) {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const committed = new Map((offsets?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
      for (const e of ends) {
        const c = committed.get(e.partition) ?? -1;
        if (c >= 0) behind += Math.max(0, Number(e.high) - c);
      }
    }
    return behind;
  } finally {
    await admin.disconnect();
  }
}

/** Records of telemetry.raw a system has not handled yet: the topic's end minus its counters. */
async function rawQueued(brokers: readonly string[], topic: string, counter: HandledCounter | null): Promise<number> {
  const handled = await counter?.read();
  if (handled === null || handled === undefined) return Number.POSITIVE_INFINITY;
  const admin = new Kafka({ clientId: 'fleetline-loadtest-queued', brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const end = (await admin.fetchTopicOffsets(topic)).reduce((s, e) => s + Number(e.high), 0);
    return Math.max(0, end - handled);
  } finally {
    await admin.disconnect();
  }
}

/** Writes the demo fleet of `devices` devices into a migrated database (one statement per table). */
async function seedFleet(url: string, devices: number): Promise<void> {
  const pool = createPgPool({ connectionString: url, applicationName: 'fleetline-loadtest' });
  try {
    await migrate(pool);
    const fleet = demoFleet(devices);
    await pool.query('INSERT INTO companies (id, name, active) SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[])',
      [fleet.companies.map((c) => c.id), fleet.companies.map((c) => c.name), fleet.companies.map((c) => c.active)]);
    await pool.query('INSERT INTO vehicles (id, company_id, name, plate, speed_limit) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[])',
      [fleet.vehicles.map((v) => v.id), fleet.vehicles.map((v) => v.companyId), fleet.vehicles.map((v) => v.name ?? null), fleet.vehicles.map((v) => v.plate ?? null), fleet.vehicles.map((v) => v.speedLimit ?? null)]);
    await pool.query('INSERT INTO device_bindings (device_id, vehicle_id) SELECT * FROM unnest($1::text[], $2::text[])',
      [fleet.devices.map((d) => d.deviceId), fleet.devices.map((d) => d.vehicleId)]);
  } finally {
    await pool.end();
  }
}

/**
 * A Fleetline node as production runs it: Kafka, Redis and PostgreSQL (a database of its own,
 * migrated and holding the run's demo fleet), in a process of its own.
 */
export class FleetlineSystem implements ComparedSystem {
  readonly system = 'fleetline';
  readonly topicPrefix = `loadtest.fl.${id()}.`;
  readonly redisPrefix = `loadtest:fl:${this.topicPrefix.split('.')[2]}:`;
  readonly database = `fleetline_loadtest_${this.topicPrefix.split('.')[2]}`;
  readonly rawTopic = `${this.topicPrefix}telemetry.raw`;
  readonly groupId = `${this.topicPrefix}fleetline-engine`;
  /** A point whose vehicle lives in another partition is forwarded here, and committed on telemetry.raw once forwarded. */
  readonly alsoTopics = [`${this.topicPrefix}telemetry.by-vehicle`];
  readonly metricsUrls: string[] = [];
  private engine: LaunchedEngine | null = null;
  private dbCreated = false;

  constructor(private readonly setup: SystemSetup) {}

  get url(): string {
    return this.engine?.url ?? '';
  }

  handled(): HandledCounter | null {
    return this.url === '' ? null : new HandledCounter(`${this.url}/metrics`, ['fleetline_points_accepted_total', 'fleetline_points_rejected_total']);
  }

  queued(): Promise<number> {
    return rawQueued(this.setup.kafkaBrokers, this.rawTopic, this.handled());
  }

  async start(): Promise<void> {
    const dbUrl = await createBenchDatabase(this.database);
    this.dbCreated = true;
    await seedFleet(dbUrl, this.setup.devices);
    this.engine = new LaunchedEngine(this.setup.devices, this.setup.jwtSecret, {
      KAFKA_BROKERS: this.setup.kafkaBrokers.join(','), KAFKA_TOPIC_PREFIX: this.topicPrefix, TELEMETRY_PARTITIONS: String(this.setup.partitions),
      REDIS_URL: this.setup.redisUrl ?? BENCH_REDIS_URL, REDIS_PREFIX: this.redisPrefix, DATABASE_URL: dbUrl,
      ...this.setup.env,
    });
    await this.engine.start();
  }

  async stop(): Promise<void> {
    await this.engine?.stop();
  }

  async clean(): Promise<void> {
    await everyStep(`cleaning up after fleetline (topics ${this.topicPrefix}*, keys ${this.redisPrefix}*, database ${this.database})`, [
      () => removeTopicsAndGroups(this.setup.kafkaBrokers, this.topicPrefix),
      () => removeRedisPrefix(this.redisPrefix, this.setup.redisUrl ?? BENCH_REDIS_URL),
      async () => { if (this.dbCreated) await dropBenchDatabase(this.database); },
    ]);
  }

  logTail(): string {
    return this.engine?.logs.slice(-20).join('\n') ?? '';
  }

  /** Its node's last 500 log lines. */
  logLines(): readonly string[] {
    return this.engine?.logs ?? [];
  }
}

/**
 * The baseline pipeline (loadtest/baseline/) as deployed: the processor and the fanout, each in
 * a process of its own, reference data seeded from the run's demo fleet.
 */
export class BaselineSystem implements ComparedSystem {
  readonly system = 'baseline';
  readonly topicPrefix = `loadtest.bl.${id()}.`;
  readonly redisPrefix = `loadtest:bl:${this.topicPrefix.split('.')[2]}:`;
  readonly database = null;
  readonly rawTopic = `${this.topicPrefix}telemetry.raw`;
  readonly groupId = `${this.topicPrefix}baseline-processor`;
  readonly alsoTopics = [];
  readonly metricsUrls: string[] = [];
  url = '';
  private processor: ChildNodeProcess | null = null;
  private fanout: ChildNodeProcess | null = null;
  private dir: string | null = null;

  constructor(private readonly setup: SystemSetup) {}

  handled(): HandledCounter | null {
    const metrics = this.metricsUrls[0];
    return metrics === undefined ? null : new HandledCounter(`${metrics}/metrics`, ['baseline_updates_published_total', 'baseline_points_rejected_total']);
  }

  async queued(): Promise<number> {
    const [raw, fanout] = await Promise.all([
      rawQueued(this.setup.kafkaBrokers, this.rawTopic, this.handled()),
      groupsBehind(this.setup.kafkaBrokers, `${this.topicPrefix}baseline-fanout-`, `${this.topicPrefix}vehicle.updates`),
    ]);
    return raw + fanout;
  }

  async start(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'fleetline-baseline-'));
    const fleetFile = join(this.dir, 'fleet.json');
    writeFileSync(fleetFile, JSON.stringify(demoFleet(this.setup.devices)));
    const env = {
      KAFKA_BROKERS: this.setup.kafkaBrokers.join(','), KAFKA_TOPIC_PREFIX: this.topicPrefix, TELEMETRY_PARTITIONS: String(this.setup.partitions),
      REDIS_URL: this.setup.redisUrl ?? BENCH_REDIS_URL, REDIS_PREFIX: this.redisPrefix, JWT_SECRET: this.setup.jwtSecret,
      HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...this.setup.env,
    };
    const service = (f: string, serviceEnv: Record<string, string>): ChildNodeProcess => {
      const entry = fileURLToPath(new URL(`../baseline/${f}`, import.meta.url));
      // The engine's Node flags for the baseline's services too: the same collector settings for both.
      return new ChildNodeProcess({ name: entry, entry, nodeArgs: ENGINE_NODE_FLAGS, env: serviceEnv, keepLines: 500, tailLines: 20 });
    };
    this.processor = service('processor.ts', { ...env, FLEET_FILE: fleetFile, PROCESSOR_PORT: '0' });
    const p = await this.processor.start('baseline processor running', 60_000);
    if (typeof p.metrics === 'string') this.metricsUrls.push(p.metrics);
    this.fanout = service('fanout.ts', env);
    const f = await this.fanout.start('baseline fanout listening', 60_000);
    this.url = `http://127.0.0.1:${Number(f.port)}`;
  }

  async stop(): Promise<void> {
    // SIGTERM, then SIGKILL if one still runs 15 s later.
    await this.fanout?.stop('SIGTERM', 15_000);
    await this.processor?.stop('SIGTERM', 15_000);
  }

  async clean(): Promise<void> {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    await everyStep(`cleaning up after the baseline (topics ${this.topicPrefix}*, keys ${this.redisPrefix}*)`, [
      () => removeTopicsAndGroups(this.setup.kafkaBrokers, this.topicPrefix),
      () => removeRedisPrefix(this.redisPrefix, this.setup.redisUrl ?? BENCH_REDIS_URL),
    ]);
  }

  logTail(): string {
    return [...(this.processor?.logs.slice(-10) ?? []), ...(this.fanout?.logs.slice(-10) ?? [])].join('\n');
  }
}
