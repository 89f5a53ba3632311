/**
 * `npm run bench:infra` (node --expose-gc --import tsx loadtest/bench-infrastructure.ts):
 * the engine against the real Kafka, Redis and PostgreSQL of this machine. Prints
 *  1. points/s through Kafka → vehicle actors → Redis/PostgreSQL: BENCH_POINTS points
 *     pre-produced to telemetry.raw (not measured), then one node started in-process consumes
 *     them; "applied by actors" and "durably written (positions in PostgreSQL) and committed",
 *     the node process's CPU per point and the checkpoint stage times (fleetline_checkpoint_stage_seconds);
 *  2. the checkpoint flush of BENCH_DIRTY dirty vehicle actors over 24 partitions (what
 *     ShardSupervisor.checkpoint writes: history, snapshots to Redis + PostgreSQL, current
 *     state), total and per store;
 *  3. restart-to-serving of a node with BENCH_RESIDENT vehicles in the snapshot stores: from
 *     startNode() until it has restored every actor, is ready and answers GET /v1/vehicles/<id>
 *     (its port opens first and answers /healthz meanwhile).
 * Numbers, not assertions. Each part runs in a child process of its own (a clean heap, and a
 * larger heap limit for part 3) against a deployment of its own on the shared servers: database
 * fleetline_bench_<random>, Redis prefix bench:<random>:, Kafka topic prefix bench.<random>.;
 * this process creates it before and removes it after the child, even when the child fails or
 * is killed (OOM), or this process gets SIGINT/SIGTERM.
 *
 * Environment (all optional):
 *   BENCH_POINTS      points of part 1 (default 500000)
 *   BENCH_DEVICES     devices of part 1; points = devices × rounds (default 20000)
 *   BENCH_DIRTY       dirty actors of part 2 (default 100000)
 *   BENCH_RESIDENT    vehicles of part 3 (default 1000000)
 *   BENCH_WINDOW      points in each vehicle's rolling window in parts 2 and 3 (default 16, the
 *                     engine's RECENT_WINDOW: a vehicle that has been driving a while)
 *   BENCH_PARTS       which parts to run, e.g. "1,3" (default 1,2,3)
 *   BENCH_HEAP_MB     --max-old-space-size of part 3's process (default 12288)
 *   BENCH_SEMI_SPACE_MB  --max-semi-space-size of part 3's process (default 64, as the engine's
 *                     image and `npm start` run it; 0: V8's default)
 *   BENCH_TIMEOUT_S   longest wait for a measured condition (default 900)
 *   BENCH_CPU_PROF    a directory: every part runs with --cpu-prof into it
 *   SNAPSHOT_INTERVAL_MS  the node's snapshot cadence in part 1 (default: the engine's)
 *   KAFKA_COMPRESSION     the node's producer codec (default: the engine's)
 *   KAFKA_BROKERS (127.0.0.1:9092), FLEETLINE_BENCH_REDIS_URL (redis://127.0.0.1:6379),
 *   FLEETLINE_BENCH_PG_URL (admin connection, postgres://postgres@127.0.0.1:5432/postgres)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { Writable } from 'node:stream';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Kafka, Partitioners, logLevel, type Admin } from 'kafkajs';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../engine/config.js';
import { startNode, type FleetlineNode } from '../engine/fleetline-node.js';
import { PrometheusMetrics } from '../engine/metrics.js';
import type { CheckpointData } from '../actors/partition-shard.js';
import { TieredSnapshotStore } from '../actors/tiered-snapshot-store.js';
import type { SnapshotStore } from '../actors/ports/snapshot-store.js';
import type { VehicleSnapshot } from '../actors/domain/vehicle-state.js';
import { unboundVehicleId } from '../actors/domain/reference-data.js';
import { encodeMsgpack } from '../adapters/codec/msgpack-codec.js';
import { partitionForKey } from '../adapters/embedded/murmur2.js';
import { closeRedis, connectRedis } from '../adapters/redis/redis-connection.js';
import { RedisSnapshotStore, packSnapshot } from '../adapters/redis/redis-snapshot-store.js';
import { RedisCurrentStateStore } from '../adapters/redis/redis-current-state.js';
import { createPgPool } from '../adapters/postgres/pg-pool.js';
import { migrate } from '../adapters/postgres/migrate.js';
import { PgSnapshotStore } from '../adapters/postgres/pg-snapshot-store.js';
import { PgHistoryStore } from '../adapters/postgres/pg-history-store.js';
import { RouteSimulator } from '../engine/simulator/route-simulator.js';
import { ShardHarness } from './shard-harness.js';
import { BENCH_PG_ADMIN_URL, BENCH_REDIS_URL, createBenchDatabase, dropBenchDatabase, removeRedisPrefix } from './bench-stores.js';
import { createTopicsWithLeaders } from '../adapters/kafka/topic-creation.js';
import { ENGINE_NODE_FLAGS } from '../engine/node-flags.js';
import { residentSnapshot as makeResidentSnapshot } from './resident-snapshot.js';

const PARTITIONS = 24;
const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const JWT_SECRET = 'bench-infrastructure-secret-0123456789';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

const POINTS = envInt('BENCH_POINTS', 500_000);
const DEVICES = Math.min(envInt('BENCH_DEVICES', 20_000), POINTS);
const ROUNDS = Math.ceil(POINTS / DEVICES);
const DIRTY = envInt('BENCH_DIRTY', 100_000);
const RESIDENT = envInt('BENCH_RESIDENT', 1_000_000);
const WINDOW = Math.min(envInt('BENCH_WINDOW', 16), 16);
const HEAP_MB = envInt('BENCH_HEAP_MB', 12_288);
const SEMI_SPACE_MB = process.env.BENCH_SEMI_SPACE_MB === '0' ? 0 : envInt('BENCH_SEMI_SPACE_MB', 64);
const TIMEOUT_MS = envInt('BENCH_TIMEOUT_S', 900) * 1000;

// ---------------------------------------------------------------- small helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => performance.now();
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const rate = (n: number, ms: number) => `${int((n / ms) * 1000)}/s`;
/** Progress and diagnostics go to stderr; stdout carries the results only. */
const progress = (msg: string) => process.stderr.write(`  … ${msg}\n`);

function gc(): void {
  const f = (globalThis as { gc?: () => void }).gc;
  if (!f) throw new Error('run with node --expose-gc (npm run bench:infra does)');
  f();
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, intervalMs: number, describe: () => string): Promise<T> {
  const deadline = now() + TIMEOUT_MS;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (now() > deadline) throw new Error(`timed out after ${TIMEOUT_MS / 1000} s waiting for ${what} (${describe()})`);
    await sleep(intervalMs);
  }
}

function kafkaClient(clientId: string): Kafka {
  return new Kafka({ brokers: KAFKA_BROKERS.split(',').map((b) => b.trim()), clientId, logLevel: logLevel.NOTHING });
}

async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafkaClient('fleetline-bench-admin').admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

// ---------------------------------------------------------------- the deployment of one part

/** A deployment of its own on the shared servers (created and removed by the parent process). */
interface Deployment {
  readonly id: string;
  readonly dbName: string;
  readonly dbUrl: string;
  readonly redisPrefix: string;
  readonly topicPrefix: string;
}

async function createDeployment(): Promise<Deployment> {
  const id = randomBytes(5).toString('hex');
  const dbName = `fleetline_bench_${id}`;
  const dbUrl = await createBenchDatabase(dbName);
  return { id, dbName, dbUrl, redisPrefix: `bench:${id}:`, topicPrefix: `bench.${id}.` };
}

/** Removes everything of a deployment; every step runs even when an earlier one failed. */
async function destroyDeployment(d: Deployment): Promise<void> {
  const problems: string[] = [];
  try {
    await withAdmin(async (admin) => {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(d.topicPrefix));
      if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
      // A member of a killed process stays in its group until its session times out (30 s);
      // until then the group cannot be deleted. An empty group without offsets also goes away
      // by itself, so: try, and look again, for up to a minute.
      const ours = async () => (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(d.topicPrefix));
      const deadline = Date.now() + 60_000;
      for (let groups = await ours(); groups.length > 0; groups = await ours()) {
        try {
          await admin.deleteGroups(groups);
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await sleep(2000);
        }
      }
    });
  } catch (e) {
    problems.push(`kafka topics/groups ${d.topicPrefix}*: ${(e as Error).message}`);
  }
  try {
    await removeRedisPrefix(d.redisPrefix);
  } catch (e) {
    problems.push(`redis ${d.redisPrefix}*: ${(e as Error).message}`);
  }
  try {
    await dropBenchDatabase(d.dbName);
  } catch (e) {
    problems.push(`postgres ${d.dbName}: ${(e as Error).message}`);
  }
  if (problems.length > 0) throw new Error(`cleanup incomplete, remove by hand:\n  ${problems.join('\n  ')}`);
}

/** The environment of a node of this deployment, as an operator would set it. */
function nodeConfig(d: Deployment, extra: Record<string, string> = {}): Config {
  return loadConfig({
    KAFKA_BROKERS, KAFKA_TOPIC_PREFIX: d.topicPrefix, REDIS_URL: BENCH_REDIS_URL, REDIS_PREFIX: d.redisPrefix, DATABASE_URL: d.dbUrl,
    TELEMETRY_PARTITIONS: String(PARTITIONS), JWT_SECRET, LOG_LEVEL: 'warn', PORT: '0', HOST: '127.0.0.1',
    // The simulated devices have no reference data: they are unbound devices, admitted explicitly.
    ACCEPT_UNBOUND_DEVICES: 'true', UNBOUND_DEVICE_LIMIT: '10000000',
    NODE_ID: `bench-${d.id}`,
    // The snapshot cadence can be set for a run (SNAPSHOT_INTERVAL_MS=0: snapshots and commits at every checkpoint).
    ...(process.env.SNAPSHOT_INTERVAL_MS !== undefined ? { SNAPSHOT_INTERVAL_MS: process.env.SNAPSHOT_INTERVAL_MS } : {}),
    // And the codec of what the node produces (the output topics).
    ...(process.env.KAFKA_COMPRESSION !== undefined ? { KAFKA_COMPRESSION: process.env.KAFKA_COMPRESSION } : {}),
    ...extra,
  });
}

/** warn and above to stderr; `onLine` sees every line at the logger's level (JSON). */
function benchLogger(level: 'warn' | 'info', onLine?: (line: Record<string, unknown>) => void): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (text === '') continue;
        const line = JSON.parse(text) as Record<string, unknown>;
        onLine?.(line);
        if (typeof line.level === 'number' && line.level >= 40) process.stderr.write(`  [node ${line.level >= 50 ? 'error' : 'warn'}] ${String(line.msg)} ${text}\n`);
      }
      done();
    },
  });
  return pino({ level }, sink);
}

/** Each label value's sum of a labelled histogram (its `_sum` series), e.g. the checkpoint stages. */
async function histogramSums(node: FleetlineNode, name: string, label: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const sums = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}_sum\\{([^}]*)\\} ([0-9.e+-]+)$`, 'gm'))) {
    const value = new RegExp(`${label}="([^"]*)"`).exec(m[1])?.[1];
    if (value !== undefined) sums.set(value, (sums.get(value) ?? 0) + Number(m[2]));
  }
  return sums;
}

async function metricValue(node: FleetlineNode, name: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

// ---------------------------------------------------------------- part 1: Kafka → actors → stores

async function partKafka(d: Deployment): Promise<void> {
  const topic = `${d.topicPrefix}telemetry.raw`;
  const group = `${d.topicPrefix}fleetline-engine`;
  await withAdmin((admin) => createTopicsWithLeaders(admin, [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }]));

  // Pre-production (not measured): one send per round, in order, so every device's points are
  // in timestamp order within its partition. Keys are deviceIds, partitioned by murmur2.
  const producer = kafkaClient('fleetline-bench-producer').producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  const sim = new RouteSimulator({ devices: DEVICES, seed: 11 });
  const t0 = Date.now() - (ROUNDS + 60) * 1000;
  const produceStart = now();
  let produced = 0;
  let bytes = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const points = sim.tick(t0 + round * 1000);
      const take = Math.min(points.length, POINTS - produced);
      const messages = new Array<{ key: string; value: Buffer }>(take);
      for (let i = 0; i < take; i++) {
        const value = Buffer.from(encodeMsgpack(points[i]));
        bytes += value.length;
        messages[i] = { key: points[i].deviceId, value };
      }
      await producer.send({ topic, acks: -1, messages });
      produced += take;
    }
  } finally {
    await producer.disconnect();
  }
  const produceMs = now() - produceStart;
  const ends = await withAdmin((admin) => admin.fetchTopicOffsets(topic));
  const endOf = new Map(ends.map((p) => [p.partition, Number(p.high)]));
  const inTopic = [...endOf.values()].reduce((a, b) => a + b, 0);
  if (inTopic !== POINTS) throw new Error(`topic holds ${inTopic} records, expected ${POINTS}`);
  progress(`pre-produced ${int(POINTS)} points (${int(bytes / POINTS)} B MessagePack each) in ${secs(produceMs)}; not measured`);
  gc();

  // When the node's actors accept points: PrometheusMetrics.pointsAccepted (what feeds
  // fleetline_points_accepted_total) is wrapped, because the node consumes while startNode() is
  // still running (it joins a second consumer group for fleet.reference after the first
  // assignment), before /metrics can be polled. /metrics is checked against it afterwards.
  let accepted = 0;
  let firstAcceptedAt: number | undefined;
  let appliedAt: number | undefined;
  const original = PrometheusMetrics.prototype.pointsAccepted;
  PrometheusMetrics.prototype.pointsAccepted = function pointsAccepted(this: PrometheusMetrics, n: number): void {
    firstAcceptedAt ??= now();
    accepted += n;
    if (accepted >= POINTS) appliedAt ??= now();
    original.call(this, n);
  };
  // ... and when every partition is assigned and restored (the "partition acquired" log lines).
  let assignedAt = 0;
  let acquired = 0;
  const log = benchLogger('info', (line) => {
    if (line.msg === 'partition acquired' && ++acquired === PARTITIONS) assignedAt = now();
  });

  const pool = new pg.Pool({ connectionString: d.dbUrl, max: 1 });
  const admin = kafkaClient('fleetline-bench-offsets').admin();
  await admin.connect();
  let node: FleetlineNode | undefined;
  try {
    const callAt = now();
    const cpuAtCall = process.cpuUsage();
    node = await startNode(nodeConfig(d), log);
    const readyAt = now();
    if (assignedAt === 0) throw new Error(`the node acquired ${acquired} partitions, not ${PARTITIONS}`);
    const n = node;
    let rejected = 0;
    const applied = await waitFor('every point applied', async () => {
      if (appliedAt !== undefined) return appliedAt;
      rejected = await metricValue(n, 'fleetline_points_rejected_total');
      if (rejected > 0 && accepted + rejected >= POINTS) throw new Error(`${rejected} points rejected, ${accepted} accepted`);
      return undefined;
    }, 100, () => `${accepted} accepted, ${rejected} rejected`);
    const exported = await metricValue(n, 'fleetline_points_accepted_total');
    if (exported !== POINTS) throw new Error(`/metrics says ${exported} points accepted, expected ${POINTS}`);

    // Offsets first (cheap to poll): the engine commits a partition only after its positions,
    // events, snapshots and current state are written. Then the positions are counted, so the
    // count(*) over the growing table does not compete with the node while it writes.
    let rows = 0;
    let committed = 0;
    let committedAt: number | undefined;
    const durableAt = await waitFor('offsets committed and positions written', async () => {
      if (committedAt === undefined) {
        const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
        committed = 0;
        let all = offsets.partitions.length === PARTITIONS;
        for (const p of offsets.partitions) {
          const o = Number(p.offset);
          if (o > 0) committed += o;
          if (o < (endOf.get(p.partition) ?? 0)) all = false;
        }
        if (!all) return undefined;
        committedAt = now();
      }
      rows = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM positions')).rows[0].n);
      return rows >= POINTS ? now() : undefined;
    }, 100, () => `${committed} offsets committed, ${rows} positions in PostgreSQL`);
    if (rows !== POINTS) throw new Error(`${rows} positions in PostgreSQL, expected ${POINTS}`);
    // CPU of this process (the node, and the bench's light polling) from startNode() to durable.
    const cpu = process.cpuUsage(cpuAtCall);
    const stages = await histogramSums(n, 'fleetline_checkpoint_stage_seconds', 'stage');

    const appliedMs = applied - assignedAt;
    const durableMs = durableAt - assignedAt;
    console.log(`1. Kafka → vehicle actors → Redis/PostgreSQL (${int(POINTS)} points = ${int(DEVICES)} devices × ${ROUNDS} rounds, ` +
      `pre-produced to ${PARTITIONS} partitions, consumed by one node in this process):`);
    console.log(`   applied by actors:               ${rate(POINTS, appliedMs).padStart(10)} points  (all ${int(POINTS)} accepted ${secs(appliedMs)} after the partitions were assigned)`);
    console.log(`   durably written and committed:   ${rate(POINTS, durableMs).padStart(10)} points  (every offset committed ${secs((committedAt ?? durableAt) - assignedAt)}, ` +
      `all ${int(POINTS)} positions counted in PostgreSQL ${secs(durableMs)} after the partitions were assigned)`);
    console.log(`   node start before that (startNode() call → partitions assigned: migrations, topics, group join): ${secs(assignedAt - callAt)}; ` +
      `first point accepted ${secs((firstAcceptedAt ?? assignedAt) - assignedAt)} after assignment; startNode() resolved ${secs(readyAt - callAt)} after the call`);
    console.log(`   node process CPU from startNode() to durable: ${secs((cpu.user + cpu.system) / 1000)} (user ${secs(cpu.user / 1000)}, system ${secs(cpu.system / 1000)}), ` +
      `${((cpu.user + cpu.system) / POINTS).toFixed(1)} µs per point`);
    console.log(`   checkpoint stage time summed over partitions (fleetline_checkpoint_stage_seconds): ` +
      [...stages].sort((a, b) => b[1] - a[1]).map(([stage, sec]) => `${stage} ${sec.toFixed(1)} s`).join(', '));
  } finally {
    const closeStart = now();
    await node?.close();
    progress(`node closed in ${secs(now() - closeStart)}`);
    await admin.disconnect();
    await pool.end();
    PrometheusMetrics.prototype.pointsAccepted = original;
  }
}

// ---------------------------------------------------------------- part 2: checkpoint flush

/** A SnapshotStore that adds the time of its saves to a counter. */
class TimedStore implements SnapshotStore {
  saveMs = 0;
  constructor(private readonly inner: SnapshotStore) {}
  get kind(): string {
    return this.inner.kind;
  }
  acquire(partition: number): Promise<number> {
    return this.inner.acquire(partition);
  }
  async save(partition: number, epoch: number, snapshots: readonly VehicleSnapshot[]): Promise<void> {
    const started = now();
    try {
      await this.inner.save(partition, epoch, snapshots);
    } finally {
      this.saveMs += now() - started;
    }
  }
  load(partition: number): Promise<VehicleSnapshot[]> {
    return this.inner.load(partition);
  }
  loadPages(partition: number): AsyncIterable<readonly VehicleSnapshot[]> {
    return this.inner.loadPages(partition);
  }
  loadOne(partition: number, vehicleId: string): Promise<VehicleSnapshot | undefined> {
    return this.inner.loadOne(partition, vehicleId);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function partCheckpoint(d: Deployment): Promise<void> {
  const pool = createPgPool({ connectionString: d.dbUrl, applicationName: 'fleetline-bench', statementTimeoutMs: 600_000 });
  const redis = await connectRedis({ url: BENCH_REDIS_URL, name: 'fleetline-bench', commandTimeoutMs: 600_000 });
  let harness: ShardHarness | undefined;
  try {
    await migrate(pool);
    const redisTier = new TimedStore(new RedisSnapshotStore(redis, { prefix: d.redisPrefix }));
    const pgTier = new TimedStore(new PgSnapshotStore(pool));
    const hotFailures: Error[] = [];
    const snapshots = new TieredSnapshotStore(redisTier, pgTier, { onHotFailure: (e) => { hotFailures.push(e); } });
    const history = new PgHistoryStore(pool, { retentionDays: 90 });
    const currentState = new RedisCurrentStateStore(redis, { prefix: d.redisPrefix });

    // 24 shards as a node holds them (no node: the shards are driven directly, like bench.ts).
    const epochs: number[] = [];
    for (let p = 0; p < PARTITIONS; p++) epochs.push(await snapshots.acquire(p));
    harness = new ShardHarness(epochs);
    const { shards } = harness;
    const sim = new RouteSimulator({ devices: DIRTY, seed: 5 });
    const partitionOf = sim.deviceIds.map((id) => partitionForKey(id, PARTITIONS));
    const t0 = Date.now() - 3_600_000;
    let round = 0;
    const drive = (): Promise<void> => harness!.drive(sim.tick(t0 + round++ * 5000), (i) => partitionOf[i]);
    const warmStart = now();
    for (let r = 0; r < WINDOW - 1; r++) await drive();
    for (const s of shards) s.takeCheckpoint(); // the warm-up is not written
    progress(`${int(DIRTY)} actors driven through ${WINDOW - 1} rounds in ${secs(now() - warmStart)} (setup, not measured)`);

    /** What ShardSupervisor.checkpoint writes, partition after partition (Kafka outputs and commit left out). */
    const checkpoint = async (label: string): Promise<void> => {
      await drive(); // every actor accepts one more point: all of them dirty, one position each
      gc();
      redisTier.saveMs = 0;
      pgTier.saveMs = 0;
      const t = { take: 0, positions: 0, events: 0, snapshots: 0, current: 0 };
      let nSnap = 0;
      let nPos = 0;
      let nEvents = 0;
      let bytes = 0;
      const started = now();
      for (const shard of shards) {
        let s = now();
        const data: CheckpointData = shard.takeCheckpoint();
        t.take += now() - s;
        s = now();
        if (data.positions.length > 0) await history.appendPositions(data.positions);
        t.positions += now() - s;
        s = now();
        if (data.events.length > 0) await history.appendEvents(data.events);
        t.events += now() - s;
        s = now();
        if (data.snapshots.length > 0) await snapshots.save(shard.partition, shard.epoch, data.snapshots);
        t.snapshots += now() - s;
        s = now();
        if (data.views.length > 0) await currentState.write(data.views);
        t.current += now() - s;
        if (bytes === 0 && data.snapshots.length > 0) bytes = packSnapshot(data.snapshots[0]).length;
        nSnap += data.snapshots.length;
        nPos += data.positions.length;
        nEvents += data.events.length;
      }
      const total = now() - started;
      if (nSnap !== DIRTY) throw new Error(`${nSnap} snapshots taken, expected ${DIRTY}`);
      if (hotFailures.length > 0) throw new Error(`redis tier failed: ${hotFailures[0].message}`);
      console.log(`   ${label}: ${secs(total)} for ${int(nSnap)} snapshots (~${int(bytes)} B), ${int(nPos)} positions, ${int(nEvents)} events (${rate(nSnap, total)} actors)`);
      console.log(`     takeCheckpoint (copies, in the engine)          ${secs(t.take).padStart(8)}`);
      console.log(`     history.appendPositions (PostgreSQL)            ${secs(t.positions).padStart(8)}`);
      console.log(`     history.appendEvents (PostgreSQL)               ${secs(t.events).padStart(8)}`);
      console.log(`     snapshots.save (tiered)                         ${secs(t.snapshots).padStart(8)}  = PostgreSQL ${secs(pgTier.saveMs)} + Redis ${secs(redisTier.saveMs)}`);
      console.log(`     currentState.write (Redis hashes + GEO)         ${secs(t.current).padStart(8)}`);
    };
    console.log(`2. Checkpoint flush of ${int(DIRTY)} dirty vehicle actors over ${PARTITIONS} partitions (epochs acquired first; ${WINDOW}-point windows; ` +
      `partitions one after another as ShardSupervisor.checkpointAll does; Kafka outputs and commit not included):`);
    await checkpoint('first checkpoint (rows inserted)   ');
    await checkpoint('steady state (every row updated)   ');
    const { rows } = await pool.query<{ s: string; p: string }>(`SELECT pg_size_pretty(pg_total_relation_size('vehicle_snapshots')) AS s, (SELECT pg_size_pretty(sum(pg_total_relation_size(relid))) FROM pg_partition_tree('positions')) AS p`);
    progress(`vehicle_snapshots ${rows[0].s}, positions ${rows[0].p}`);
  } finally {
    harness?.stop();
    await closeRedis(redis);
    await pool.end();
  }
}

// ---------------------------------------------------------------- part 3: restart to serving

function residentSnapshot(n: number, partition: number, baseTs: number): VehicleSnapshot {
  return makeResidentSnapshot(n, partition, baseTs, WINDOW);
}

async function writeResidents(d: Deployment): Promise<number> {
  const pool = createPgPool({ connectionString: d.dbUrl, applicationName: 'fleetline-bench-setup', statementTimeoutMs: 600_000 });
  const redis = await connectRedis({ url: BENCH_REDIS_URL, name: 'fleetline-bench-setup', commandTimeoutMs: 600_000 });
  try {
    await migrate(pool);
    const store = new TieredSnapshotStore(new RedisSnapshotStore(redis, { prefix: d.redisPrefix }), new PgSnapshotStore(pool));
    const byPartition: number[][] = Array.from({ length: PARTITIONS }, () => []);
    for (let n = 1; n <= RESIDENT; n++) byPartition[partitionForKey(`dev-${n}`, PARTITIONS)].push(n);
    const epochs: number[] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      epochs.push(await store.acquire(p));
      // As a node does: the restore of a fresh partition is what makes its hot tier known complete.
      for await (const page of store.loadPages(p)) if (page.length > 0) throw new Error(`partition ${p} is not empty`);
    }
    const baseTs = Date.now() - 3_600_000;
    const CHUNK = 5000;
    let written = 0;
    let reported = 0;
    const started = now();
    let next = 0;
    // Two partitions at a time: PostgreSQL writes one while this process packs the other.
    await Promise.all([0, 1].map(async () => {
      while (next < PARTITIONS) {
        const p = next++;
        const ids = byPartition[p];
        for (let i = 0; i < ids.length; i += CHUNK) {
          const chunk = ids.slice(i, i + CHUNK).map((n) => residentSnapshot(n, p, baseTs));
          await store.save(p, epochs[p], chunk);
          written += chunk.length;
          if (written - reported >= 100_000) {
            reported = written;
            progress(`setup: ${int(written)} of ${int(RESIDENT)} snapshots written to Redis + PostgreSQL (${secs(now() - started)})`);
          }
        }
      }
    }));
    // A clean hand-off marks each partition's Redis copy complete: the node under test restores from Redis.
    for (let p = 0; p < PARTITIONS; p++) await store.release(p, epochs[p]);
    const { rows } = await pool.query<{ n: string; size: string }>(`SELECT count(*) AS n, pg_size_pretty(pg_total_relation_size('vehicle_snapshots')) AS size FROM vehicle_snapshots`);
    let hot = 0;
    for (let p = 0; p < PARTITIONS; p++) hot += await redis.hlen(`${d.redisPrefix}snap:${p}`);
    if (Number(rows[0].n) !== RESIDENT || hot !== RESIDENT) throw new Error(`setup wrote ${rows[0].n} rows to PostgreSQL and ${hot} snapshots to Redis, expected ${RESIDENT}`);
    const bytes = packSnapshot(residentSnapshot(1, 0, baseTs)).length;
    progress(`setup: ${int(RESIDENT)} snapshots (~${bytes} B each) in Redis and PostgreSQL (${rows[0].size}) in ${secs(now() - started)}; not measured`);
    return bytes;
  } finally {
    await closeRedis(redis);
    await pool.end();
  }
}

async function partRestore(d: Deployment): Promise<void> {
  const bytes = await writeResidents(d);
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  // The node logs at info into this sink (printed: warn and above) so the restore timeline is known.
  const acquired: { at: number; partition: number; restored: number; loadMs: number; restoreMs: number }[] = [];
  let callAt = 0;
  let portOpenAt = 0;
  const log = benchLogger('info', (line) => {
    if (line.msg === 'partition restored') {
      acquired.push({
        at: now() - callAt, partition: Number(line.partition), restored: Number(line.restored),
        loadMs: Number(line.loadMs), restoreMs: Number(line.restoreMs),
      });
    }
    if (typeof line.msg === 'string' && line.msg.startsWith('fleetline node listening')) portOpenAt = now();
  });
  let node: FleetlineNode | undefined;
  let gcMs = 0;
  let gcCount = 0;
  let gcLongest = 0;
  let peakRss = 0;
  let cpuAtCall = process.cpuUsage();
  try {
    const gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        gcMs += e.duration;
        gcCount++;
        gcLongest = Math.max(gcLongest, e.duration);
      }
    });
    gcObserver.observe({ entryTypes: ['gc'] });
    const rssSampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage.rss()); }, 100);
    cpuAtCall = process.cpuUsage();
    callAt = now();
    // Resident means an actor each: the snapshots are an hour old, which passivation would leave on the map without one.
    node = await startNode(nodeConfig(d, { PASSIVATE_AFTER_S: '0' }), log);
    const listeningAt = now();
    const n = node;
    const allAt = await waitFor('every actor restored', async () => (n.supervisor.actors >= RESIDENT ? now() : undefined), 20, () => `${n.supervisor.actors} actors`);
    const token = await node.auth.sign({ role: 'admin', sub: 'bench' });
    const ids = ['dev-1', `dev-${RESIDENT}`, `dev-${Math.ceil(RESIDENT / 2)}`].map(unboundVehicleId);
    const servingAt = await waitFor('GET /v1/vehicles/<id> answering 200', async () => {
      for (const id of ids) {
        const res = await fetch(`${n.url}/v1/vehicles/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${token}` } });
        await res.arrayBuffer();
        if (res.status !== 200) return undefined;
      }
      return now();
    }, 20, () => 'not 200 yet');
    const cpu = process.cpuUsage(cpuAtCall);
    clearInterval(rssSampler);
    gcObserver.disconnect();
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    const gauge = await metricValue(node, 'fleetline_actors_alive');
    gc();
    const mem = process.memoryUsage();
    const first = acquired[0];
    const last = acquired[acquired.length - 1];
    const ready = Math.max(listeningAt, allAt, servingAt) - callAt;
    console.log(`3. Restart to serving with ${int(RESIDENT)} vehicles in Redis + PostgreSQL (${PARTITIONS} partitions, ${WINDOW}-point windows, snapshots ~${int(bytes)} B):`);
    console.log(`   restart to serving: ${secs(ready)}  (startNode() → port open ${secs(portOpenAt - callAt)}, ready ${secs(listeningAt - callAt)}, all ${int(n.supervisor.actors)} actors restored ${secs(allAt - callAt)}, ` +
      `GET /v1/vehicles/<id> 200 ${secs(servingAt - callAt)}; fleetline_actors_alive ${int(gauge)})`);
    if (first && last) {
      const restored = acquired.reduce((a, x) => a + x.restored, 0);
      console.log(`   partitions restored (all ${PARTITIONS} restore at once, page by page): first at ${secs(first.at)}, last (${acquired.length}th) at ${secs(last.at)}; ` +
        `${int(restored)} actors restored = ${rate(restored, last.at)} counted from the call`);
      const sum = (k: 'loadMs' | 'restoreMs') => acquired.reduce((a, x) => a + x[k], 0);
      console.log(`   of which, summed over the partitions (they overlap): waiting for and decoding pages ${secs(sum('loadMs'))}, ` +
        `making the vehicles' state and actors and indexing them ${secs(sum('restoreMs'))}`);
    }
    console.log(`   this process from the call to serving: CPU ${secs(cpu.user / 1000)} user + ${secs(cpu.system / 1000)} system, ` +
      `garbage collection ${secs(gcMs)} (${int(gcCount)} pauses, longest ${int(gcLongest)} ms), peak rss ${mib(peakRss)}`);
    console.log(`   heap used afterwards: ${mib(mem.heapUsed)} (${int((mem.heapUsed - heapBefore) / RESIDENT)} B per restored vehicle after gc; rss ${mib(mem.rss)})`);
  } finally {
    if (node) {
      const closeStart = now();
      await node.close();
      console.log(`   (graceful close of that node: ${secs(now() - closeStart)})`);
    }
  }
}

// ---------------------------------------------------------------- the parent: one child per part

const PARTS: Record<string, { title: string; run: (d: Deployment) => Promise<void>; execArgv: string[] }> = {
  1: { title: 'Kafka → actors → Redis/PostgreSQL', run: partKafka, execArgv: [...ENGINE_NODE_FLAGS] },
  2: { title: 'checkpoint flush', run: partCheckpoint, execArgv: [...ENGINE_NODE_FLAGS] },
  3: {
    title: 'restart to serving', run: partRestore,
    execArgv: [`--max-old-space-size=${HEAP_MB}`, ...(SEMI_SPACE_MB > 0 ? [`--max-semi-space-size=${SEMI_SPACE_MB}`] : [])],
  },
};
const PROFILE = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];

let running: ChildProcess | null = null;
let interrupted = false;

async function runPart(key: string): Promise<boolean> {
  const part = PARTS[key];
  const d = await createDeployment();
  process.stderr.write(`  … part ${key} (${part.title}): database ${d.dbName}, redis ${d.redisPrefix}*, kafka ${d.topicPrefix}*\n`);
  console.log(`[part ${key} starts; machine load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}]`);
  try {
    if (interrupted) return false;
    // Each part gives its own young-generation size (BENCH_SEMI_SPACE_MB=0 must mean V8's default).
    const inherited = process.execArgv.filter((a) => !a.startsWith('--max-semi-space-size'));
    const child = spawn(process.execPath, [...inherited, ...part.execArgv, ...PROFILE, fileURLToPath(import.meta.url), '--part', key, JSON.stringify(d)], { stdio: 'inherit' });
    running = child;
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
    running = null;
    if (code !== 0) console.log(`   part ${key} FAILED (exit ${code ?? signal}); see stderr`);
    return code === 0;
  } finally {
    await destroyDeployment(d);
    process.stderr.write(`  … part ${key}: deployment ${d.id} removed\n`);
  }
}

async function parent(): Promise<void> {
  // A signal stops the running part; its deployment is removed before this process exits.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (interrupted) process.exit(130); // the second one: leave now
      interrupted = true;
      process.stderr.write(`\n  … ${sig}: stopping the running part, then removing its deployment (again to quit at once)\n`);
      running?.kill('SIGTERM');
    });
  }
  const parts = (process.env.BENCH_PARTS ?? '1,2,3').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const p of parts) if (!(p in PARTS)) throw new Error(`BENCH_PARTS: unknown part ${p} (1, 2, 3)`);
  const pgClient = new pg.Client({ connectionString: BENCH_PG_ADMIN_URL });
  await pgClient.connect();
  const pgVersion = (await pgClient.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v;
  await pgClient.end();
  const redis = await connectRedis({ url: BENCH_REDIS_URL, name: 'fleetline-bench' });
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
  await closeRedis(redis);
  const cpu = cpus();
  console.log(`fleetline bench:infra — ${cpu.length} cores, ${cpu[0]?.model ?? '?'}, ${mib(totalmem())} RAM, node ${process.version}; ` +
    `Kafka ${KAFKA_BROKERS}, Redis ${redisVersion}, PostgreSQL ${pgVersion} (all on this machine, sharing its cores)`);
  console.log(`parameters: BENCH_POINTS=${POINTS} BENCH_DEVICES=${DEVICES} BENCH_DIRTY=${DIRTY} BENCH_RESIDENT=${RESIDENT} BENCH_WINDOW=${WINDOW} ` +
    `BENCH_PARTS=${parts.join(',')} BENCH_HEAP_MB=${HEAP_MB} BENCH_SEMI_SPACE_MB=${SEMI_SPACE_MB} (part 3), TELEMETRY_PARTITIONS=${PARTITIONS}`);
  let ok = true;
  for (const p of parts) {
    if (interrupted) break;
    if (!(await runPart(p))) ok = false;
  }
  if (interrupted) process.exit(130);
  if (!ok) process.exitCode = 1;
}

async function child(key: string, deployment: string): Promise<void> {
  const d = JSON.parse(deployment) as Deployment;
  process.on('SIGTERM', () => process.exit(143)); // the parent removes the deployment
  await PARTS[key].run(d);
}

const at = process.argv.indexOf('--part');
try {
  if (at >= 0) await child(process.argv[at + 1], process.argv[at + 2]);
  else await parent();
} catch (e) {
  console.error(e);
  process.exitCode = 1;
}
// kafkajs, pg and ioredis leave timers behind; everything that must be closed is closed.
process.exit(process.exitCode ?? 0);
