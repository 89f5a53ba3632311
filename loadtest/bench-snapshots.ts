/**
 * Snapshot store benchmark: how long a checkpoint of N dirty vehicle snapshots takes against
 * the real Redis and PostgreSQL, and how long restoring them (acquire + load) takes.
 *
 *   tsx loadtest/bench-snapshots.ts [--count 100000] [--chunk 5000]
 *
 * Uses its own Redis key prefix (bench:<random>:) and its own database (fleetline_bench_<random>)
 * and removes both at the end, so it can run next to the tests and other benchmarks.
 * Environment: FLEETLINE_BENCH_REDIS_URL (default redis://127.0.0.1:6379),
 * FLEETLINE_BENCH_PG_URL (admin connection, default postgres://postgres@127.0.0.1:5432/postgres).
 * Prints numbers; asserts nothing but that what was loaded is what was saved.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Redis } from 'ioredis';
import type { VehicleSnapshot } from '../actors/domain/vehicle-state.js';
import type { SnapshotStore } from '../actors/ports/snapshot-store.js';
import { TieredSnapshotStore } from '../actors/tiered-snapshot-store.js';
import { closeRedis, connectRedis } from '../adapters/redis/redis-connection.js';
import { RedisSnapshotStore, packSnapshot, unpackSnapshot } from '../adapters/redis/redis-snapshot-store.js';
import { createPgPool } from '../adapters/postgres/pg-pool.js';
import { migrate } from '../adapters/postgres/migrate.js';
import { PgSnapshotStore } from '../adapters/postgres/pg-snapshot-store.js';
import { BENCH_REDIS_URL, createBenchDatabase, dropBenchDatabase, removeRedisPrefix } from './bench-stores.js';


function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`);
  return v;
}

/** A snapshot as a vehicle actor writes it: full view and a 16-point window. */
function snapshot(i: number, partition: number, round: number): VehicleSnapshot {
  const ts = 1_700_000_000_000 + round * 60_000 + i;
  const recent: number[] = [];
  let lat = 0;
  let lon = 0;
  let speed = 0;
  for (let k = 15; k >= 0; k--) {
    lat = 55.5 + (i % 997) * 0.0007 + k * 0.00011;
    lon = 37.3 + (i % 991) * 0.0009 - k * 0.00013;
    speed = (i + k + round) % 95;
    recent.push(ts - k * 5000, lat, lon, speed);
  }
  return {
    vehicleId: `veh-${i}`,
    deviceId: `dev-${i}`,
    partition,
    view: {
      id: `veh-${i}`, company: `co-${i % 50}`, name: `Truck ${i}`, plate: `A${i % 1000}BC${i % 99}`,
      lat, lon, ts, speed, course: (i * 13) % 360, ignition: true,
      fuel: 40 + (i % 20), odometer: 10_000 + i + round, moving: true,
    },
    recent,
    accepted: 1000 + round,
    overspeeding: false,
  };
}

function batch(n: number, partition: number, round: number): VehicleSnapshot[] {
  const out = new Array<VehicleSnapshot>(n);
  for (let i = 0; i < n; i++) out[i] = snapshot(i, partition, round);
  return out;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await fn();
  return [result, performance.now() - started];
}

function fmt(ms: number, n: number): string {
  return `${(ms / 1000).toFixed(2).padStart(6)} s  ${Math.round((n / ms) * 1000).toLocaleString('en-US').padStart(9)} snapshots/s`;
}

async function benchStore(label: string, store: SnapshotStore, n: number, partition: number): Promise<void> {
  const epoch = await store.acquire(partition);
  const first = batch(n, partition, 1);
  const [, insertMs] = await timed(() => store.save(partition, epoch, first));
  console.log(`${label.padEnd(22)} save ${n} (first write)   ${fmt(insertMs, n)}`);
  const second = batch(n, partition, 2);
  const [, updateMs] = await timed(() => store.save(partition, epoch, second));
  console.log(`${label.padEnd(22)} save ${n} (all dirty)     ${fmt(updateMs, n)}`);
  const [loaded, loadMs] = await timed(async () => {
    await store.acquire(partition); // as a node taking the partition over does
    return store.load(partition);
  });
  console.log(`${label.padEnd(22)} acquire + load ${n}       ${fmt(loadMs, n)}`);
  if (loaded.length !== n || loaded.some((s) => s.accepted !== 1002)) throw new Error(`${label}: loaded ${loaded.length} snapshots, not the ${n} saved`);
}

async function main(): Promise<void> {
  const n = arg('count', 100_000);
  const chunk = arg('chunk', 5000);
  const id = randomBytes(5).toString('hex');
  const prefix = `bench:${id}:`;
  const dbName = `fleetline_bench_${id}`;
  const bytes = packSnapshot(snapshot(1, 0, 1)).length;
  console.log(`snapshot benchmark: ${n} snapshots of ~${bytes} B MessagePack (16-point window), chunk ${chunk}`);
  console.log(`redis ${BENCH_REDIS_URL} prefix ${prefix}; postgres database ${dbName}`);

  let redis: Redis | undefined;
  let pool: pg.Pool | undefined;
  const dbUrl = await createBenchDatabase(dbName);
  try {
    redis = await connectRedis({ url: BENCH_REDIS_URL, commandTimeoutMs: 120_000 });
    pool = createPgPool({ connectionString: dbUrl, statementTimeoutMs: 120_000 });
    await migrate(pool);

    // CPU cost of the MessagePack codec alone, part of every save and load below.
    const sample = batch(n, 0, 0);
    const [packed, packMs] = await timed(async () => sample.map((s) => packSnapshot(s)));
    console.log(`${'codec only'.padEnd(22)} pack ${n}                ${fmt(packMs, n)}`);
    const [, unpackMs] = await timed(async () => packed.map(unpackSnapshot));
    console.log(`${'codec only'.padEnd(22)} unpack ${n}              ${fmt(unpackMs, n)}`);

    const hot = new RedisSnapshotStore(redis, { prefix, chunkSize: chunk });
    const durable = new PgSnapshotStore(pool, { chunkSize: chunk });
    await benchStore('redis', hot, n, 0);
    const mem = (await redis.call('MEMORY', 'USAGE', hot.snapshotKey(0), 'SAMPLES', '0')) as number | null;
    if (mem !== null) console.log(`${''.padEnd(22)} redis memory for the partition hash: ${(mem / 1024 / 1024).toFixed(1)} MiB`);
    await benchStore('postgres', durable, n, 0);
    const { rows } = await pool.query<{ size: string }>(`SELECT pg_size_pretty(pg_total_relation_size('vehicle_snapshots')) AS size`);
    console.log(`${''.padEnd(22)} postgres vehicle_snapshots size: ${rows[0].size}`);
    await benchStore('tiered (pg then redis)', new TieredSnapshotStore(hot, durable), n, 1);
  } finally {
    if (redis) await closeRedis(redis);
    await pool?.end();
    await removeRedisPrefix(prefix);
    await dropBenchDatabase(dbName);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
